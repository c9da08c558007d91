"""The 浙政钉 sign-in views: allauth's OAuth2 login and callback (redirect and embedded
QR modes share them), the embedded frame's start, and the in-app (免登) exchange."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.account.internal.decorators import login_not_required
from allauth.account.utils import get_next_redirect_url
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.models import SocialApp, SocialLogin, SocialToken
from allauth.socialaccount.providers.oauth2.views import (
    OAuth2Adapter,
    OAuth2CallbackView,
    OAuth2LoginView,
)
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from portal.csp import csp_replace
from signin.selectors import zwdd_enabled
from signin.services import SigninRefused
from signin.views import refused_response
from signin.zwdd import client


class ZwddOAuth2Adapter(OAuth2Adapter):
    provider_id = "zwdd"
    access_token_url = ""  # no user token: the app token and the code give the user

    @property
    def authorize_url(self) -> str:
        return f"{settings.ZWDD_LOGIN_BASE.rstrip('/')}/oauth2/auth.htm"

    def get_access_token_data(
        self, request: HttpRequest, app: SocialApp, client_: Any, pkce_code_verifier: Any = None
    ) -> dict[str, Any]:
        try:
            userinfo = client.user_by_code(request.GET.get("code", ""))
        except SigninRefused as exc:
            raise ImmediateHttpResponse(refused_response(request, exc)) from exc
        self.did_fetch_access_token = True
        return {"access_token": "", "userinfo": userinfo}

    def parse_token(self, data: dict[str, Any]) -> SocialToken:
        return SocialToken(token="")

    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs: Any
    ) -> SocialLogin:
        userinfo = kwargs["response"]["userinfo"]
        return self.get_provider().sociallogin_from_response(request, userinfo)


def _configured(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Without complete ZWDD_* settings the 浙政钉 URLs do not exist (404), as the
    sign-in page shows no button."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not zwdd_enabled():
            raise Http404("浙政钉 sign-in is not configured")
        return view(request, *args, **kwargs)

    return wrapper


oauth2_login = _configured(OAuth2LoginView.adapter_view(ZwddOAuth2Adapter))
oauth2_callback = _configured(OAuth2CallbackView.adapter_view(ZwddOAuth2Adapter))


def _provider(request: HttpRequest) -> Any:
    return get_adapter(request).get_provider(request, ZwddOAuth2Adapter.provider_id)


@_configured
@require_GET
@login_not_required
@xframe_options_sameorigin  # it is the sign-in page's own frame, on its way to the platform
def embed_start(request: HttpRequest) -> HttpResponse:
    """The embedded QR frame's source: stash a state as allauth's login view does, then
    send the frame to the platform's QR page in embed mode. The platform then posts
    ``{code, state}`` to our page, which forwards them to the callback."""
    provider = _provider(request)
    auth_params = {**provider.get_auth_params(), "embedMode": "true"}
    response: HttpResponse = provider.redirect(
        request,
        process="login",
        next_url=get_next_redirect_url(request),
        auth_params=auth_params,
    )
    csp_replace(response, {"frame-ancestors": ["'self'"]})  # what the CSP says instead
    return response


@_configured
@require_POST
@login_not_required
def app_login(request: HttpRequest) -> HttpResponse:
    """In the 浙政钉 app: the page got an ``authCode`` from the JSAPI and posts it here."""
    try:
        userinfo = client.user_by_app_auth_code(request.POST.get("authCode", ""))
    except SigninRefused as exc:
        return refused_response(request, exc)
    sociallogin = _provider(request).sociallogin_from_response(request, userinfo)
    sociallogin.state = {"process": "login", "next": get_next_redirect_url(request)}
    try:
        response: HttpResponse = complete_social_login(request, sociallogin)
    except ImmediateHttpResponse as exc:
        return exc.response
    return response
