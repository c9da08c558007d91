from __future__ import annotations

from allauth.socialaccount.providers.dingtalk.views import (
    DingTalkOAuth2Adapter as AllauthDingTalkOAuth2Adapter,
)
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings


class DingTalkOAuth2Adapter(AllauthDingTalkOAuth2Adapter):
    """allauth's adapter; only the hosts come from DINGTALK_LOGIN_BASE / DINGTALK_API_BASE."""

    @property
    def authorize_url(self) -> str:
        return f"{settings.DINGTALK_LOGIN_BASE.rstrip('/')}/oauth2/auth"

    @property
    def access_token_url(self) -> str:
        return f"{settings.DINGTALK_API_BASE.rstrip('/')}/v1.0/oauth2/userAccessToken"

    @property
    def profile_url(self) -> str:
        return f"{settings.DINGTALK_API_BASE.rstrip('/')}/v1.0/contact/users/me"


oauth2_login = OAuth2LoginView.adapter_view(DingTalkOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(DingTalkOAuth2Adapter)
