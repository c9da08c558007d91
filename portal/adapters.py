"""allauth adapter: accounts come from the org data (and SSO later), not open sign-up."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        from portal.http import request_user
        from portal.selectors import home_url_for

        return home_url_for(user=request_user(request))
