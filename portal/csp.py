"""The Content-Security-Policy's sources beyond our origin, in one place.

``settings.CONTENT_SECURITY_POLICY`` holds the fixed directives; :func:`policy_config`
adds the hosts other settings name (read when a response is built, so a changed setting
needs no second list), and :func:`csp_allow` lets one response widen its own policy (the
live room: its lecture's stream host). Nothing else widens the policy."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponseBase

# setting → the directives its host is added to
SOURCE_SETTINGS: dict[str, tuple[str, ...]] = {
    "ZWDD_LOGIN_BASE": ("frame-src", "form-action"),  # the QR frame; the sign-in redirect
    "ZWDD_JSAPI_URL": ("script-src",),  # 免登 inside the 浙政钉 app
    "DINGTALK_LOGIN_BASE": ("form-action",),
    "WECHAT_OPEN_BASE": ("form-action",),
    "CSP_STREAM_SOURCES": ("connect-src", "media-src"),
}
_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def url_origin(url: str) -> str | None:
    """``https://cdn.example/live/x.m3u8`` → ``https://cdn.example``; relative URLs → None."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def policy_config() -> dict[str, Any]:
    """The site-wide directives: the fixed ones plus the hosts of SOURCE_SETTINGS."""
    fixed = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    values = tuple(
        tuple(value) if isinstance(value := getattr(settings, name, ""), list | tuple) else value
        for name in SOURCE_SETTINGS
    )
    key = (id(fixed), *values)
    if key in _cache:
        return _cache[key]
    config: dict[str, Any] = {name: list(sources) for name, sources in fixed.items()}
    for directives, value in zip(SOURCE_SETTINGS.values(), values, strict=True):
        urls = value if isinstance(value, tuple) else (value,)
        for origin in filter(None, map(url_origin, urls)):
            for directive in directives:
                sources = [s for s in config.get(directive, []) if s != "'none'"]
                config[directive] = sources + ([origin] if origin not in sources else [])
    _cache.clear()
    _cache[key] = config
    return config


def csp_allow(response: HttpResponseBase, directives: dict[str, Iterable[str]]) -> None:
    """Add sources to directives of this response's policy (django-csp's update)."""
    update: dict[str, list[str]] = dict(getattr(response, "_csp_update", None) or {})
    for name, sources in directives.items():
        merged = list(update.get(name, []))
        merged += [source for source in sources if source and source not in merged]
        if merged:
            update[name] = merged
    if update:
        response._csp_update = update  # type: ignore[attr-defined]


def csp_replace(response: HttpResponseBase, directives: dict[str, list[str]]) -> None:
    """Set directives of this response's policy outright (django-csp's replace)."""
    replace: dict[str, list[str]] = dict(getattr(response, "_csp_replace", None) or {})
    replace.update(directives)
    response._csp_replace = replace  # type: ignore[attr-defined]


def csp_allow_media(response: HttpResponseBase, urls: Iterable[str]) -> None:
    """Let a player on this page fetch and play the streams at ``urls`` (hls.js fetches,
    native HLS plays them as media)."""
    origins = sorted({origin for url in urls if (origin := url_origin(url))})
    csp_allow(response, {"connect-src": origins, "media-src": origins})
