"""Signed push and play URLs for a commercial live CDN (Aliyun ApsaraVideo Live, Tencent CSS).

Pure functions: no models, no clock, no network. Callers pass the expiry and the keys; the
only place settings are read is ``cdn_settings()``.

Settings (read with ``getattr`` so this module works before they exist in settings.py):

``STREAM_CDN_PROVIDER``          "" (off), "aliyun" or "tencent"
``STREAM_CDN_PUSH_DOMAIN``       ingest host, e.g. "push.example.cn" (no scheme, no path)
``STREAM_CDN_PLAY_DOMAIN``       playback host, e.g. "live.example.cn"
``STREAM_CDN_APP``               AppName, the first path segment (default "live")
``STREAM_CDN_PUSH_KEY``          the push domain's URL-auth key (required when a provider is set)
``STREAM_CDN_PLAY_KEY``          the play domain's URL-auth key; "" leaves play URLs unsigned
``STREAM_CDN_URL_TTL_SECONDS``   how long a URL we hand out is meant to live (default 86400)

Both providers honour a URL for a per-domain grace period *after* the time written into it
(Aliyun: "timestamp + validity period"; Tencent: "txTime + validity period of the
authentication key"), configured in their consoles. ``expires_at`` here is the time written
into the URL, so the real lifetime is our TTL plus that console setting.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ALIYUN = "aliyun"
TENCENT = "tencent"
PROVIDERS = (ALIYUN, TENCENT)

# Stream and app names go into the URL path *and* into the signed string. Percent-encoding
# them would leave it unclear whether the CDN hashes the raw or the decoded path, so a name
# that would need quoting is refused instead. Dots are refused too: ".m3u8"/".flv" are how
# both CDNs tell formats apart, and "." in a name would make that ambiguous.
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
# Aliyun splits auth_key on "-", so rand and uid must not contain one (its docs say so).
_AUTH_FIELD_RE = re.compile(r"[A-Za-z0-9]{1,64}")
# A bare host with an optional port: a scheme or path here is a settings mistake.
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?")
# Every published txTime is 8 hex digits and every Aliyun timestamp 10 decimal digits;
# 2**32 (year 2106) keeps both true and catches milliseconds passed by mistake.
_MAX_EXPIRES_AT = 2**32


@dataclass(frozen=True)
class CdnSettings:
    provider: str
    push_domain: str
    play_domain: str
    app: str
    push_key: str
    play_key: str
    url_ttl_seconds: int

    @property
    def enabled(self) -> bool:
        return self.provider != ""


def cdn_settings() -> CdnSettings:
    """Read the ``STREAM_CDN_*`` settings; raise ImproperlyConfigured on values that can't work."""
    provider = str(getattr(settings, "STREAM_CDN_PROVIDER", "") or "").strip().lower()
    if provider and provider not in PROVIDERS:
        raise ImproperlyConfigured(
            f"STREAM_CDN_PROVIDER={provider!r}: expected '', {' or '.join(map(repr, PROVIDERS))}"
        )
    raw_ttl: Any = getattr(settings, "STREAM_CDN_URL_TTL_SECONDS", 86400)
    try:
        ttl = int(raw_ttl)
    except (TypeError, ValueError) as e:
        raise ImproperlyConfigured(
            f"STREAM_CDN_URL_TTL_SECONDS={raw_ttl!r} is not an integer"
        ) from e
    if ttl <= 0:
        raise ImproperlyConfigured(f"STREAM_CDN_URL_TTL_SECONDS={ttl} must be positive")
    config = CdnSettings(
        provider=provider,
        push_domain=str(getattr(settings, "STREAM_CDN_PUSH_DOMAIN", "") or "").strip(),
        play_domain=str(getattr(settings, "STREAM_CDN_PLAY_DOMAIN", "") or "").strip(),
        app=str(getattr(settings, "STREAM_CDN_APP", "live") or "live").strip(),
        # Stripped: a key read from a *_FILE secret often ends in a newline, which would
        # silently change every signature.
        push_key=str(getattr(settings, "STREAM_CDN_PUSH_KEY", "") or "").strip(),
        play_key=str(getattr(settings, "STREAM_CDN_PLAY_KEY", "") or "").strip(),
        url_ttl_seconds=ttl,
    )
    if config.enabled:
        # Fail at startup, not when the first lecturer clicks "go live".
        missing = [
            name
            for name, value in (
                ("STREAM_CDN_PUSH_DOMAIN", config.push_domain),
                ("STREAM_CDN_PLAY_DOMAIN", config.play_domain),
                ("STREAM_CDN_PUSH_KEY", config.push_key),
            )
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(
                f"STREAM_CDN_PROVIDER={provider!r} needs {', '.join(missing)}"
            )
        try:
            _check_host(host=config.push_domain, what="STREAM_CDN_PUSH_DOMAIN")
            _check_host(host=config.play_domain, what="STREAM_CDN_PLAY_DOMAIN")
            _check_name(name=config.app, what="STREAM_CDN_APP")
        except ValueError as e:
            raise ImproperlyConfigured(str(e)) from e
    return config


# ---------------------------------------------------------------------------------------------
# Validation


def _check_name(*, name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} must be 1-128 ASCII letters, digits, '_' or '-' "
            "(anything else would need quoting inside a signed path)"
        )


def _check_host(*, host: str, what: str) -> None:
    if not isinstance(host, str) or not _HOST_RE.fullmatch(host):
        raise ValueError(f"{what} {host!r} must be a bare host name, without scheme or path")


def _check_expires_at(*, expires_at: int) -> None:
    # bool is an int subclass; True as an expiry is always a bug.
    if isinstance(expires_at, bool) or not isinstance(expires_at, int):
        raise ValueError(f"expires_at must be an int of Unix seconds, not {expires_at!r}")
    if not 0 < expires_at < _MAX_EXPIRES_AT:
        raise ValueError(f"expires_at={expires_at} is not a plausible Unix time in seconds")


def _check_provider(*, provider: str) -> None:
    if provider not in PROVIDERS:
        raise ValueError(
            f"unknown stream CDN provider {provider!r}; expected one of {', '.join(PROVIDERS)}"
        )


def expires_at_for(*, now: float, ttl_seconds: int) -> int:
    """The Unix second ``ttl_seconds`` after ``now`` (``time.time()``), for ``expires_at``."""
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be a positive int, not {ttl_seconds!r}")
    return int(now) + ttl_seconds


# ---------------------------------------------------------------------------------------------
# Aliyun ApsaraVideo Live, URL authentication type A
# https://help.aliyun.com/document_detail/199349.htm ("推/播流地址鉴权")
# https://www.alibabacloud.com/help/en/live/user-guide/url-signing


def aliyun_auth_key(
    *, path: str, expires_at: int, key: str, rand: str = "0", uid: str = "0"
) -> str:
    """``timestamp-rand-uid-md5hash`` with md5hash = md5("{path}-{timestamp}-{rand}-{uid}-{key}").

    ``path`` is the URI path the player or encoder requests, e.g. "/live/s1" for RTMP,
    "/live/s1.m3u8" for HLS: each format gets its own hash.
    """
    _check_expires_at(expires_at=expires_at)
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")
    if not key:
        raise ValueError("the Aliyun URL-auth key is empty")
    for what, value in (("rand", rand), ("uid", uid)):
        if not _AUTH_FIELD_RE.fullmatch(value):
            raise ValueError(f"{what} {value!r} must be ASCII letters or digits, without '-'")
    signed = f"{path}-{expires_at}-{rand}-{uid}-{key}"
    # md5 is the provider's algorithm, not our choice; it is not used for security here.
    digest = hashlib.md5(signed.encode(), usedforsecurity=False).hexdigest()
    return f"{expires_at}-{rand}-{uid}-{digest}"


def _aliyun_url(*, scheme: str, host: str, path: str, expires_at: int, key: str) -> str:
    url = f"{scheme}://{host}{path}"
    if not key:
        return url
    return f"{url}?auth_key={aliyun_auth_key(path=path, expires_at=expires_at, key=key)}"


# ---------------------------------------------------------------------------------------------
# Tencent Cloud Streaming Services (CSS), hotlink protection
# https://www.tencentcloud.com/document/product/267/31560 ("Hotlink Protection URL Calculation")
# https://cloud.tencent.com/document/product/267/32735 ("防盗链计算")


def tencent_tx_time(*, expires_at: int) -> str:
    """``txTime``: the expiry as upper-case hexadecimal Unix seconds (e.g. "5C271099")."""
    _check_expires_at(expires_at=expires_at)
    return f"{expires_at:X}"


def tencent_tx_secret(*, key: str, stream: str, expires_at: int) -> str:
    """``txSecret`` = md5(KEY + StreamName + txTime), lower-case hex."""
    if not key:
        raise ValueError("the Tencent hotlink-protection key is empty")
    signed = f"{key}{stream}{tencent_tx_time(expires_at=expires_at)}"
    # md5 is the provider's algorithm, not our choice.
    return hashlib.md5(signed.encode(), usedforsecurity=False).hexdigest()


def _tencent_url(
    *, scheme: str, host: str, path: str, stream: str, expires_at: int, key: str
) -> str:
    url = f"{scheme}://{host}{path}"
    if not key:
        return url
    secret = tencent_tx_secret(key=key, stream=stream, expires_at=expires_at)
    return f"{url}?txSecret={secret}&txTime={tencent_tx_time(expires_at=expires_at)}"


# ---------------------------------------------------------------------------------------------
# Provider-neutral API


def push_url(
    *, provider: str, stream: str, expires_at: int, push_domain: str, key: str, app: str = "live"
) -> str:
    """The RTMP ingest URL the encoder (OBS) publishes to, signed with the push key."""
    _check_provider(provider=provider)
    _check_name(name=stream, what="stream name")
    _check_name(name=app, what="app name")
    _check_host(host=push_domain, what="push domain")
    _check_expires_at(expires_at=expires_at)
    if not key:
        # An unsigned ingest URL lets anyone who guesses the stream name broadcast on our domain.
        raise ValueError("a push URL needs the push domain's signing key")
    path = f"/{app}/{stream}"
    if provider == ALIYUN:
        return _aliyun_url(
            scheme="rtmp", host=push_domain, path=path, expires_at=expires_at, key=key
        )
    return _tencent_url(
        scheme="rtmp", host=push_domain, path=path, stream=stream, expires_at=expires_at, key=key
    )


def play_urls(
    *,
    provider: str,
    stream: str,
    expires_at: int,
    play_domain: str,
    key: str = "",
    app: str = "live",
) -> dict[str, str]:
    """Playback URLs by format: "hls", "flv" (HTTPS) and "rtmp"; unsigned when ``key`` is "".

    HLS and FLV are https because the portal is served over HTTPS and browsers block mixed
    media; the play domain therefore needs a certificate in the CDN console.
    """
    _check_provider(provider=provider)
    _check_name(name=stream, what="stream name")
    _check_name(name=app, what="app name")
    _check_host(host=play_domain, what="play domain")
    _check_expires_at(expires_at=expires_at)
    base = f"/{app}/{stream}"
    formats = {
        "hls": ("https", f"{base}.m3u8"),
        "flv": ("https", f"{base}.flv"),
        "rtmp": ("rtmp", base),
    }
    if provider == ALIYUN:
        return {
            name: _aliyun_url(
                scheme=scheme, host=play_domain, path=path, expires_at=expires_at, key=key
            )
            for name, (scheme, path) in formats.items()
        }
    return {
        name: _tencent_url(
            scheme=scheme,
            host=play_domain,
            path=path,
            stream=stream,
            expires_at=expires_at,
            key=key,
        )
        for name, (scheme, path) in formats.items()
    }


def configured_push_url(*, config: CdnSettings, stream: str, now: float) -> str:
    """``push_url`` with the domain, keys and TTL from ``cdn_settings()``."""
    if not config.enabled:
        raise ValueError("STREAM_CDN_PROVIDER is empty: CDN streaming is switched off")
    return push_url(
        provider=config.provider,
        stream=stream,
        expires_at=expires_at_for(now=now, ttl_seconds=config.url_ttl_seconds),
        push_domain=config.push_domain,
        key=config.push_key,
        app=config.app,
    )


def configured_play_urls(*, config: CdnSettings, stream: str, now: float) -> dict[str, str]:
    """``play_urls`` with the domain, keys and TTL from ``cdn_settings()``."""
    if not config.enabled:
        raise ValueError("STREAM_CDN_PROVIDER is empty: CDN streaming is switched off")
    return play_urls(
        provider=config.provider,
        stream=stream,
        expires_at=expires_at_for(now=now, ttl_seconds=config.url_ttl_seconds),
        play_domain=config.play_domain,
        key=config.play_key,
        app=config.app,
    )
