"""allauth's adapters: social apps from settings, linking to the directory; phone codes."""

from __future__ import annotations

from typing import Any

from allauth.account import app_settings as allauth_account_settings
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from notifications.services import sms_login_code_send
from portal.adapters import AccountAdapter as PortalAccountAdapter
from portal.models import User
from signin import services
from signin.phone import MainlandPhoneField
from signin.selectors import zwdd_enabled
from signin.services import Refusal, SigninRefused
from signin.views import refused_response


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False

    def list_apps(
        self, request: HttpRequest | None, provider: str | None = None, client_id: str | None = None
    ) -> list[SocialApp]:
        apps: list[SocialApp] = [
            app for app in super().list_apps(request, provider, client_id) if app.provider != "zwdd"
        ]
        # 浙政钉 comes from ZWDD_* (read on every call: tests and operators change them).
        if provider in (None, "zwdd") and zwdd_enabled():
            app = SocialApp(
                provider="zwdd",
                name="浙政钉",
                client_id=settings.ZWDD_CLIENT_ID,
                secret=settings.ZWDD_APP_SECRET,
                key=settings.ZWDD_APP_KEY,
            )
            if client_id is None or client_id == app.client_id:
                apps.append(app)
        return apps

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        try:
            self._link(request, sociallogin)
        except SigninRefused as exc:
            raise ImmediateHttpResponse(refused_response(request, exc)) from exc

    def _link(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        account = sociallogin.account
        if sociallogin.is_existing:
            if not sociallogin.user.is_active:
                raise SigninRefused(Refusal.INACTIVE, account.uid)
            return
        if account.provider != "zwdd":
            raise SigninRefused(Refusal.UNMATCHED, account.provider)
        data: dict[str, Any] = account.extra_data or {}
        user = services.zwdd_cadre_match(
            account_id=account.uid, employee_code=str(data.get("employeeCode") or "").strip()
        )
        services.zwdd_bind(
            user=user,
            account_id=account.uid,
            save_account=lambda: sociallogin.connect(request, user),
        )
        if not sociallogin.is_existing:  # a concurrent first sign-in bound it: use that
            sociallogin.lookup()
        if not sociallogin.is_existing or sociallogin.user.pk != user.pk:
            raise SigninRefused(Refusal.CONFLICT, account.uid)


class AccountAdapter(PortalAccountAdapter):
    """Phone numbers are the directory's (``User.phone``): sign-in codes go to them by SMS
    through the notifications path; nobody adds a number by signing in."""

    def phone_form_field(self, **kwargs: Any) -> Any:
        return MainlandPhoneField(**kwargs)

    def get_user_by_phone(self, phone: str) -> Any:
        return User.objects.filter(phone=phone, is_active=True).first()

    def get_phone(self, user: Any) -> tuple[str, bool] | None:
        return (user.phone, True) if user.phone else None

    def set_phone(self, user: Any, phone: str, verified: bool) -> None:
        # Only the directory import and staff change a cadre's number (issue 14).
        raise PermissionDenied("phone numbers come from the directory")

    def set_phone_verified(self, user: Any, phone: str) -> None:
        return None  # a directory number is verified by the code that reached it

    def send_verification_code_sms(self, user: Any, phone: str, code: str, **kwargs: Any) -> None:
        sms_login_code_send(
            user_id=user.pk,
            phone=phone,
            code=code,
            minutes=max(1, allauth_account_settings.LOGIN_BY_CODE_TIMEOUT // 60),
        )
