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

SETTINGS_APPS = ("zwdd", "dingtalk", "weixin")


def settings_apps() -> list[SocialApp]:
    """The configured sign-in apps: 浙政钉 (ZWDD_*), DingTalk (DINGTALK_*) and WeChat binding
    (the official account of the notices, NOTIFY_WECHAT_APPID / _SECRET)."""
    apps = []
    if zwdd_enabled():
        apps.append(
            SocialApp(
                provider="zwdd",
                name="浙政钉",
                client_id=settings.ZWDD_CLIENT_ID,
                secret=settings.ZWDD_APP_SECRET,
                key=settings.ZWDD_APP_KEY,
            )
        )
    if settings.DINGTALK_CLIENT_ID and settings.DINGTALK_CLIENT_SECRET:
        apps.append(
            SocialApp(
                provider="dingtalk",
                name="钉钉",
                client_id=settings.DINGTALK_CLIENT_ID,
                secret=settings.DINGTALK_CLIENT_SECRET,
            )
        )
    if settings.WECHAT_BINDING and settings.NOTIFY_WECHAT_APPID and settings.NOTIFY_WECHAT_SECRET:
        apps.append(
            SocialApp(
                provider="weixin",
                name="微信",
                client_id=settings.NOTIFY_WECHAT_APPID,
                secret=settings.NOTIFY_WECHAT_SECRET,
            )
        )
    return apps


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False

    def list_apps(
        self, request: HttpRequest | None, provider: str | None = None, client_id: str | None = None
    ) -> list[SocialApp]:
        # Apps come from settings, read on every call (tests and operators change them).
        apps: list[SocialApp] = [
            app
            for app in super().list_apps(request, provider, client_id)
            if app.provider not in SETTINGS_APPS
        ]
        for app in settings_apps():
            if provider in (None, app.provider) and client_id in (None, app.client_id):
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
                raise SigninRefused(Refusal.INACTIVE, account.uid, provider=account.provider)
            return
        if sociallogin.state.get("process") == "connect":
            return  # a signed-in user binds an account (WeChat from the preferences page)
        data: dict[str, Any] = account.extra_data or {}
        if account.provider == "zwdd":
            user = services.zwdd_cadre_match(
                account_id=account.uid, employee_code=str(data.get("employeeCode") or "").strip()
            )
        elif account.provider == "dingtalk":
            user = services.dingtalk_cadre_match(
                account_id=account.uid,
                mobile=str(data.get("mobile") or "").strip(),
                state_code=str(data.get("stateCode") or "").strip(),
            )
        else:  # WeChat signs in only once bound from the preferences page
            raise SigninRefused(Refusal.UNMATCHED, account.uid, provider=account.provider)
        services.identity_bind(
            provider=account.provider,
            user=user,
            account_id=account.uid,
            save_account=lambda: sociallogin.connect(request, user),
        )
        if not sociallogin.is_existing:  # a concurrent first sign-in bound it: use that
            sociallogin.lookup()
        if not sociallogin.is_existing or sociallogin.user.pk != user.pk:
            raise SigninRefused(Refusal.CONFLICT, account.uid, provider=account.provider)


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
        # Only the directory import and staff change a cadre's number (docs/directory.md).
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
