"""Home, profile and the reports entry page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from courses import selectors as course_selectors
from portal import selectors
from portal.http import request_user
from portal.scopes import Capability, scope_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """My lectures: live and upcoming lectures of my programmes, recent replays."""
    user = request_user(request)
    return render(
        request,
        "portal/home.html",
        {
            "upcoming": course_selectors.lecture_list_for_home(user=user),
            "recent": course_selectors.lecture_list_recent_for_home(user=user),
            "open_programmes": course_selectors.programme_list_for_user(user=user)
            .exclude(pk__in=course_selectors.programme_ids_enrolled(user=user))
            .order_by("-created_at")[:5],
            "staff_links": selectors.staff_links(user=user),
        },
    )


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
            "programmes": selectors.report_programmes(scope=scope),
        },
    )
