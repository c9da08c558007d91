"""Reads of sign-in: which methods are configured."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def zwdd_problems() -> list[str]:
    """What keeps 浙政钉 sign-in from working (empty: configured). ``manage.py check``
    reports these; the sign-in page hides the button while any remain."""
    if not settings.ZWDD_APP_KEY:
        return ["ZWDD_APP_KEY is not set"]
    problems = [
        f"{name} is not set"
        for name in ("ZWDD_CLIENT_ID", "ZWDD_APP_SECRET")
        if not getattr(settings, name)
    ]
    problems += [
        f"{name} is not an http(s) URL: {getattr(settings, name)!r}"
        for name in ("ZWDD_LOGIN_BASE", "ZWDD_API_BASE")
        if not _is_http_url(getattr(settings, name))
    ]
    if settings.ZWDD_CLIENT_ID and settings.ZWDD_CLIENT_ID == settings.ZWDD_APP_KEY:
        problems.append("ZWDD_CLIENT_ID is the AppKey; it must be the app code (应用标识)")
    return problems


def zwdd_enabled() -> bool:
    return not zwdd_problems()


def zwdd_login_origin() -> str:
    """The origin the embedded QR frame posts its message from."""
    parts = urlsplit(settings.ZWDD_LOGIN_BASE)
    return f"{parts.scheme}://{parts.netloc}"
