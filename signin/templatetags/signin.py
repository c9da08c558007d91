from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from portal.models import mask_phone
from signin.selectors import zwdd_enabled, zwdd_login_origin

register = template.Library()


@register.simple_tag
def zwdd_signin(request: HttpRequest, next_url: str = "") -> dict[str, Any] | None:
    """What the sign-in page needs for 浙政钉 (None when it is not configured)."""
    if not zwdd_enabled():
        return None
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    return {
        "login_url": reverse("zwdd_login") + query,
        "embed_url": reverse("zwdd_embed") + query,
        "callback_url": reverse("zwdd_callback"),
        "app_login_url": reverse("zwdd_app_login"),
        "origin": zwdd_login_origin(),
        "jsapi": settings.ZWDD_JSAPI_URL,
    }


@register.filter
def phone_masked(value: str) -> str:
    """The number a cadre typed, as ``138****5678`` (the same for known and unknown ones)."""
    return mask_phone(value)


@register.simple_tag
def other_signin_providers(request: HttpRequest, next_url: str = "") -> list[dict[str, str]]:
    """DingTalk when configured; WeChat inside WeChat, for cadres who bound it."""
    from signin.adapters import settings_apps

    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    in_wechat = "MicroMessenger" in request.headers.get("User-Agent", "")
    out = []
    for app in settings_apps():
        if app.provider == "dingtalk":
            out.append(
                {
                    "id": "dingtalk",
                    "label": str(_("Sign in with DingTalk")),
                    "url": reverse("dingtalk_login") + query,
                }
            )
        elif app.provider == "weixin" and in_wechat:
            out.append(
                {
                    "id": "weixin",
                    "label": str(_("Sign in with WeChat")),
                    "url": reverse("weixin_login") + query,
                }
            )
    return out
