"""``manage.py check`` warns about a half-configured 浙政钉 sign-in."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

from signin.selectors import zwdd_problems


@register()
def zwdd_settings_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not (settings.ZWDD_APP_KEY or settings.ZWDD_CLIENT_ID or settings.ZWDD_APP_SECRET):
        return []  # not used: the sign-in page simply has no 浙政钉 button
    return [
        Warning(
            f"浙政钉 sign-in is switched off: {problem}.",
            hint="Set ZWDD_CLIENT_ID (应用标识), ZWDD_APP_KEY, ZWDD_APP_SECRET, "
            "ZWDD_LOGIN_BASE and ZWDD_API_BASE (docs/signin.md).",
            id="signin.W001",
        )
        for problem in zwdd_problems()
    ]
