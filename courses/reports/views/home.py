"""The reports home: the entry page of party-school and organisation-department staff."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from courses.reports.request import report_programmes
from portal.http import request_user
from portal.scopes import Capability, scope_for


@login_required
def reports_home(request: HttpRequest) -> HttpResponse:
    """The entry page of party-school and organisation-department staff."""
    user = request_user(request)
    scope = scope_for(user=user, capability=Capability.READ_REPORTS)
    if scope.is_empty:
        raise PermissionDenied(_("Attendance reports are for party-school and organisation staff."))
    return render(
        request,
        "portal/reports_home.html",
        {
            "roots": scope.roots(),
            "programmes": report_programmes(scope=scope),
        },
    )
