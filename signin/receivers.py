"""allauth signals, handed to the services."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialLogin
from django.http import HttpRequest

from signin import services


def on_social_account_added(
    sender: Any, request: HttpRequest, sociallogin: SocialLogin, **kwargs: Any
) -> None:
    # First sign-ins bind through the adapter (services.identity_bind); this is the
    # connect flow of a signed-in user.
    if sociallogin.state.get("process") == "connect":
        services.social_account_added(
            provider=sociallogin.account.provider,
            user=sociallogin.user,
            account_id=sociallogin.account.uid,
        )
