"""The profile page, and the download of one's own personal data (PIPL access right)."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal import selectors
from portal.exports import content_disposition
from portal.http import request_address, request_user
from portal.privacy import personal_data_of
from portal.services import audit_log_write


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    return render(
        request,
        "portal/profile.html",
        {
            "profile_user": user,
            "unit_chain": selectors.unit_chain(unit=user.unit),
            "roles": user.roles.select_related("unit").order_by("kind"),
        },
    )


@login_required
@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    """Everything the portal holds about the signed-in person, as a JSON file."""
    user = request_user(request)
    data = {
        "generated_at": timezone.localtime().isoformat(timespec="seconds"),
        **personal_data_of(user=user),
    }
    audit_log_write(
        user=user, action="privacy.download", target=user, address=request_address(request)
    )
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=1), content_type="application/json"
    )
    response["Content-Disposition"] = content_disposition(
        f"zhixing-my-data-{timezone.localdate():%Y%m%d}.json"
    )
    response["Cache-Control"] = "no-store"
    return response
