"""allauth's rate-limit refusals (``handler429`` of the root URLconf): a page in the user's
language and an audit row — at most one a minute per address and path, so a flood of
refused requests cannot turn into a flood of writes."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.http import request_address
from portal.services import audit_log_write

AUDIT_EVERY_SECONDS = 60


def too_many_requests(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    address = request_address(request)
    path = request.path[:200]
    if cache.add(f"zx:429:{address}:{path}", 1, AUDIT_EVERY_SECONDS):
        audit_log_write(
            user=None, action="auth.rate_limited", target=f"path:{path}", address=address
        )
    response = render(request, "429.html", status=429)
    response["Retry-After"] = str(AUDIT_EVERY_SECONDS)
    return response
