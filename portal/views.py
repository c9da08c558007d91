"""The profile page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal import selectors
from portal.http import request_user


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
