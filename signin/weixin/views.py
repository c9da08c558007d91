from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialApp, SocialLogin, SocialToken
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.weixin.client import WeixinOAuth2Client
from allauth.socialaccount.providers.weixin.views import (
    WeixinOAuth2Adapter as AllauthWeixinOAuth2Adapter,
)
from django.conf import settings
from django.http import HttpRequest


class WeixinClient(WeixinOAuth2Client):
    def get_redirect_url(self, authorization_url: str, scope: Any, extra_params: Any) -> str:
        # The official account's web authorisation requires this fragment.
        url: str = super().get_redirect_url(authorization_url, scope, extra_params)
        return f"{url}#wechat_redirect"


class WeixinOAuth2Adapter(AllauthWeixinOAuth2Adapter):
    client_class = WeixinClient
    access_token_method = "GET"  # noqa: S105 (an HTTP method) sns/oauth2/access_token is a GET

    @property
    def authorize_url(self) -> str:
        return f"{settings.WECHAT_OPEN_BASE.rstrip('/')}/connect/oauth2/authorize"

    @property
    def access_token_url(self) -> str:
        return f"{settings.NOTIFY_WECHAT_ENDPOINT.rstrip('/')}/sns/oauth2/access_token"

    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs: Any
    ) -> SocialLogin:
        # snsapi_base: the token answer carries the openid; there is no profile to fetch.
        response = kwargs.get("response") or {}
        extra = {k: response[k] for k in ("openid", "unionid", "scope") if k in response}
        return self.get_provider().sociallogin_from_response(request, extra)


oauth2_login = OAuth2LoginView.adapter_view(WeixinOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(WeixinOAuth2Adapter)
