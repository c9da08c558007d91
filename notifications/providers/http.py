"""A shared httpx client and the mapping of transport failures to error kinds."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from notifications.providers.base import ErrorKind, ProviderError


def client() -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(settings.NOTIFY_HTTP_TIMEOUT, connect=5.0),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        headers={"User-Agent": "zhixing-notify/1"},
    )


def request(
    http: httpx.Client, method: str, url: str, *, idempotent: bool, **kwargs: Any
) -> httpx.Response:
    """One HTTP call. Connection failures are retryable (nothing was sent); a read timeout
    is retryable only for idempotent requests, otherwise the outcome is unknown."""
    try:
        response = http.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise ProviderError(ErrorKind.RETRYABLE, "connect", type(exc).__name__) from exc
    except httpx.TimeoutException as exc:
        kind = ErrorKind.RETRYABLE if idempotent else ErrorKind.UNKNOWN
        raise ProviderError(kind, "timeout", type(exc).__name__) from exc
    except httpx.HTTPError as exc:
        kind = ErrorKind.RETRYABLE if idempotent else ErrorKind.UNKNOWN
        raise ProviderError(kind, "transport", type(exc).__name__) from exc
    if response.status_code == 429:
        retry_after = _retry_after(response)
        raise ProviderError(ErrorKind.THROTTLED, "http_429", retry_after=retry_after)
    if response.status_code >= 500:
        raise ProviderError(ErrorKind.RETRYABLE, f"http_{response.status_code}")
    if response.status_code >= 400:
        raise ProviderError(ErrorKind.FATAL, f"http_{response.status_code}", response.text[:200])
    return response


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise ProviderError(ErrorKind.RETRYABLE, "bad_json", response.text[:100]) from exc
    if not isinstance(data, dict):
        raise ProviderError(ErrorKind.RETRYABLE, "bad_json", response.text[:100])
    return data


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
