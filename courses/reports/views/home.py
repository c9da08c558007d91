"""The reports home: the entry page of party-school and organisation-department staff."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from courses.reports.request import report_programmes, scope_require
from portal.http import request_user


@login_required
def reports_home(request: HttpRequest) -> HttpResponse:
    """The entry page of party-school and organisation-department staff."""
    user = request_user(request)
    scope = scope_require(user=user)
    return render(
        request,
        "portal/reports_home.html",
        {
            "roots": scope.roots(),
            "programmes": report_programmes(scope=scope),
        },
    )
