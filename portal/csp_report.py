"""``/csp-report/``: browsers post Content-Security-Policy violations here (report-uri).

A violation on a page we serve means a bug (an inline style crept in) or an injected
script being stopped: both are logged, bounded per process so 200,000 browsers hitting
the same bug cannot flood the log."""

from __future__ import annotations

import json
import logging
import time

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

logger = logging.getLogger("portal.csp")

REPORT_MAX_BYTES = 8192
LOG_PER_MINUTE = 30
_window = {"start": 0.0, "count": 0, "dropped": 0}


def _may_log() -> bool:
    now = time.monotonic()
    if now - _window["start"] >= 60:
        if _window["dropped"]:
            logger.warning("csp: %d more violation reports in the last minute", _window["dropped"])
        _window.update(start=now, count=0, dropped=0)
    if _window["count"] >= LOG_PER_MINUTE:
        _window["dropped"] += 1
        return False
    _window["count"] += 1
    return True


@csrf_exempt
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    body = request.body[:REPORT_MAX_BYTES] if len(request.body) <= REPORT_MAX_BYTES else b""
    try:
        report = json.loads(body or b"{}").get("csp-report", {})
    except (ValueError, AttributeError):
        return HttpResponse(status=400)
    if not isinstance(report, dict):
        return HttpResponse(status=400)
    if _may_log():
        logger.warning(
            "csp violation: %s blocked %s on %s: %r",
            str(report.get("violated-directive") or report.get("effective-directive"))[:100],
            str(report.get("blocked-uri"))[:200],
            str(report.get("document-uri")).split("?", 1)[0][:200],
            str(report.get("script-sample", ""))[:40],
        )
    return HttpResponse(status=204)
