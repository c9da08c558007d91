"""allauth's forms where the portal's rules differ."""

from __future__ import annotations

from allauth.account.forms import LoginForm as AllauthLoginForm
from django.http import HttpRequest, HttpResponse

from portal.sessions.policy import session_policy_apply


class LoginForm(AllauthLoginForm):
    def login(self, request: HttpRequest, redirect_url: str | None = None) -> HttpResponse:
        response: HttpResponse = super().login(request, redirect_url)
        # allauth sets the password sign-in's session length itself after signing in;
        # the length follows the role (portal/sessions/policy.py).
        if self.user is not None and request.user.is_authenticated:
            session_policy_apply(session=request.session, user=self.user)
        return response


__all__ = ["LoginForm"]
