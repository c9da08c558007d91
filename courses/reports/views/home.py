"""The reports home: the entry page of party-school and organisation-department staff.

It opens on the viewer's current programme (``?programme=`` picks another) with its key
figures for the viewer's area, then links into every report, list and the 通报.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from courses.reports.home import reports_home_figures
from courses.reports.request import report_programme_current, report_programmes, scope_require
from portal.http import request_user


@login_required
def reports_home(request: HttpRequest) -> HttpResponse:
    """The entry page of party-school and organisation-department staff."""
    user = request_user(request)
    scope = scope_require(user=user)
    programmes = report_programmes(scope=scope)
    chosen = request.GET.get("programme", "")
    current = next((p for p in programmes if str(p.pk) == chosen), None)
    current = current or report_programme_current(programmes=programmes)
    return render(
        request,
        "portal/reports_home.html",
        {
            "roots": scope.roots(),
            "programmes": programmes,
            "current": current,
            "figures": reports_home_figures(user=user, programme=current) if current else None,
        },
    )
