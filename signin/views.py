"""Pages of sign-in shared by its providers."""

from __future__ import annotations

from allauth.account.internal.decorators import login_not_required
from allauth.account.internal.stagekit import clear_login
from allauth.account.utils import get_next_redirect_url
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from signin.services import PROVIDER_NAMES, Refusal, SigninRefused

STATUS = {
    Refusal.UNMATCHED: 403,
    Refusal.INACTIVE: 403,
    Refusal.CONFLICT: 403,
    Refusal.EXPIRED: 400,
    Refusal.BAD_REQUEST: 400,
    Refusal.UNAVAILABLE: 503,
    Refusal.MISCONFIGURED: 503,
}


def refused_response(request: HttpRequest, refusal: SigninRefused) -> HttpResponse:
    response = render(
        request,
        "signin/refused.html",
        {
            "reason": refusal.reason.value,
            "provider": PROVIDER_NAMES.get(refusal.provider, refusal.provider),
            "contact": settings.SIGNIN_CONTACT,
        },
        status=STATUS[refusal.reason],
    )
    if refusal.reason in (Refusal.UNAVAILABLE, Refusal.MISCONFIGURED):
        response["Retry-After"] = "30"
    return response


@require_POST
@login_not_required
def login_code_again(request: HttpRequest) -> HttpResponse:
    """ "No code? Ask again": drop the pending code sign-in and return to the request form,
    where the per-number limit (once a minute) applies alike to known and unknown numbers.
    allauth's own resend is off because it bypasses that limit."""
    clear_login(request)
    target = reverse("account_request_login_code")
    next_url = get_next_redirect_url(request)
    return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
