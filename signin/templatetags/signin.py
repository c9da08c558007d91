from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

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
