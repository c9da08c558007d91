"""The 浙政钉 open-platform gateway: request signing and the response envelope.

One signer for every call the portal makes to the platform (sign-in in ``signin.zwdd``,
work notices in ``notifications.providers.zwdd``), written after the platform's official
Java SDK (``com.alibaba.xxpt.gateway.shared``):

* headers ``apiKey``, ``X-Hmac-Auth-Timestamp`` (``2026-05-11T19:00:00.000+08:00``),
  ``X-Hmac-Auth-Version: 1.0``, ``X-Hmac-Auth-Nonce``, ``X-Hmac-Auth-IP``,
  ``X-Hmac-Auth-MAC`` and ``X-Hmac-Auth-Signature``;
* the signature is Base64(HMAC-SHA256(AppSecret, ``METHOD\\nTIMESTAMP\\nNONCE\\nPATH``)),
  plus ``\\n`` and ``k1=v1&k2=v2…`` when the call has query or form parameters, sorted by
  key **case-insensitively**, values **not** URL-encoded; a repeated parameter (a list of
  codes: ``organizationCodes=a&organizationCodes=b``) is signed once per value, in order.

Answers come in two levels: the gateway's (``success``, ``errorCode`` / ``errorMsg``, e.g.
``SignatureDoesNotMatch``) and the API's (``content.success``, ``content.responseCode``,
numeric strings such as ``240111``). A call succeeds only when both say so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

# The API's own response codes (numeric strings, as the platform returns them).
CODE_AUTH_CODE_INVALID = "240111"  # the sign-in code expired or was used already
CODE_TOKEN_INVALID = "240133"  # noqa: S105 (a response code) the app's access token is invalid or expired

GATEWAY_SIGNATURE = "SignatureDoesNotMatch"
# What the client itself reports (not platform codes).
TRANSPORT = "transport"  # no answer: connection refused, timeout
BAD_RESPONSE = "bad_response"  # an answer that is not the JSON envelope (an HTML page)


class GatewayError(Exception):
    """A call that did not succeed. ``gateway`` is True for gateway-level refusals
    (signature, API key, throttling), False for the API's own ``responseCode``."""

    def __init__(self, code: str, message: str = "", *, gateway: bool = False) -> None:
        super().__init__(f"zwdd {code}: {message}" if message else f"zwdd {code}")
        self.code = code
        self.message = message
        self.gateway = gateway

    @property
    def is_configuration(self) -> bool:
        """The app's key or secret is wrong: retrying cannot help, an operator must act."""
        return self.gateway and self.code in CONFIGURATION_CODES


CONFIGURATION_CODES = frozenset(
    {GATEWAY_SIGNATURE, "InvalidApiKey", "ApiKeyNotFound", "InvalidAppKey", "Forbidden"}
)


# A parameter's value, or its values in order when it is repeated.
Params = Mapping[str, str | Sequence[str]]


def _pairs(params: Params) -> list[tuple[str, str]]:
    return [
        (key, value)
        for key, values in params.items()
        for value in ([values] if isinstance(values, str) else values)
    ]


def canonical_params(params: Params) -> str:
    """``k1=v1&k2=v2`` sorted by key case-insensitively (a repeated key's values keep their
    order), values as they are (not encoded)."""
    pairs = sorted(_pairs(params), key=lambda pair: pair[0].lower())
    return "&".join(f"{k}={v}" for k, v in pairs)


def signature(
    *, secret: str, method: str, timestamp: str, nonce: str, path: str, params: Params
) -> str:
    to_sign = f"{method.upper()}\n{timestamp}\n{nonce}\n{path}"
    if params:
        to_sign += "\n" + canonical_params(params)
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@lru_cache(maxsize=1)
def _host_ip_mac() -> tuple[str, str]:
    """This host's outward address and MAC, as the SDK reports them (the platform logs
    them; it does not check them against the connection)."""
    ip = "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent: picks the route's address
            ip = s.getsockname()[0]
    except OSError:
        pass
    node = uuid.getnode()
    mac = ":".join(f"{(node >> shift) & 0xFF:02x}" for shift in range(40, -1, -8))
    return ip, mac


def signed_headers(
    *, app_key: str, secret: str, method: str, path: str, params: Params
) -> dict[str, str]:
    timestamp = timezone.localtime().isoformat(timespec="milliseconds")
    nonce = f"{int(time.time() * 1000)}{secrets.randbelow(9000) + 1000}"
    ip, mac = _host_ip_mac()
    return {
        "apiKey": app_key,
        "X-Hmac-Auth-Timestamp": timestamp,
        "X-Hmac-Auth-Version": "1.0",
        "X-Hmac-Auth-Nonce": nonce,
        "X-Hmac-Auth-IP": ip,
        "X-Hmac-Auth-MAC": mac,
        "X-Hmac-Auth-Signature": signature(
            secret=secret, method=method, timestamp=timestamp, nonce=nonce, path=path, params=params
        ),
    }


def request_kwargs(method: str, params: Params) -> dict[str, Any]:
    """httpx's arguments for ``params``: the query of a GET, the form of a POST."""
    values = {k: v if isinstance(v, str) else list(v) for k, v in params.items()}
    return {"params": values} if method == "GET" else {"data": values}


def envelope_data(payload: Any) -> Any:
    """``content.data`` of a successful answer; ``GatewayError`` for any other."""
    if not isinstance(payload, dict):
        raise GatewayError(BAD_RESPONSE, "not a JSON object")
    if not payload.get("success"):
        code = str(payload.get("errorCode") or payload.get("Code") or "gateway_refused")
        message = str(payload.get("errorMsg") or payload.get("Message") or "")
        raise GatewayError(code, message[:200], gateway=True)
    content = payload.get("content")
    if not isinstance(content, dict):
        raise GatewayError(BAD_RESPONSE, "no content")
    if not content.get("success"):
        code = str(content.get("responseCode") or "content_refused")
        raise GatewayError(code, str(content.get("responseMessage") or "")[:200])
    return content.get("data")


class Gateway:
    """Signed calls to one platform host with one app's key and secret.

    ``token_get`` / ``token_invalidate`` share the app's access token between processes
    (``notifications.redis_state``); a call refused with ``240133`` fetches a new token
    once and is retried.
    """

    def __init__(
        self,
        *,
        base: str,
        app_key: str,
        secret: str,
        client: httpx.Client,
        token_get: Callable[..., str],
        token_invalidate: Callable[..., None],
    ) -> None:
        self.base = base.rstrip("/")
        self.app_key = app_key
        self.secret = secret
        self.client = client
        self._token_get = token_get
        self._token_invalidate = token_invalidate

    def send(
        self, method: str, url: str, *, headers: dict[str, str], params: Params
    ) -> httpx.Response:
        """The HTTP exchange; GET sends the parameters in the query, POST as a form (a list
        value as a repeated key). Subclasses may map transport failures their own way."""
        try:
            return self.client.request(
                method, url, headers=headers, **request_kwargs(method, params)
            )
        except httpx.HTTPError as exc:
            raise GatewayError(TRANSPORT, type(exc).__name__) from exc

    def call(self, method: str, path: str, params: Params) -> Any:
        method = method.upper()
        headers = signed_headers(
            app_key=self.app_key, secret=self.secret, method=method, path=path, params=params
        )
        response = self.send(method, f"{self.base}{path}", headers=headers, params=params)
        try:
            payload = response.json()
        except ValueError:
            raise GatewayError(BAD_RESPONSE, f"HTTP {response.status_code}") from None
        return envelope_data(payload)

    @property
    def token_key(self) -> str:
        return f"zwdd:{self.base}:{self.app_key}"

    def _fetch_token(self) -> tuple[str, int]:
        data = self.call(
            "GET", "/gettoken.json", {"appkey": self.app_key, "appsecret": self.secret}
        )
        if not isinstance(data, dict) or not data.get("accessToken"):
            raise GatewayError(BAD_RESPONSE, "no accessToken")
        return str(data["accessToken"]), int(data.get("expiresIn") or 7200)

    def call_with_token(self, method: str, path: str, params: Params) -> Any:
        """``call`` with the app's ``access_token`` added; one refetch on ``240133``."""
        for attempt in (1, 2):
            token = self._token_get(key=self.token_key, fetch=self._fetch_token)
            try:
                return self.call(method, path, {**params, "access_token": token})
            except GatewayError as exc:
                if exc.code != CODE_TOKEN_INVALID or attempt == 2:
                    raise
                self._token_invalidate(key=self.token_key, token=token)
        raise AssertionError("unreachable")


@lru_cache(maxsize=8)
def _http(timeout: float, user_agent: str) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        headers={"User-Agent": user_agent},
    )


def settings_gateway(
    *,
    user_agent: str,
    token_get: Callable[..., str],
    token_invalidate: Callable[..., None],
) -> Gateway:
    """The gateway of the ``ZWDD_*`` settings (sign-in, the directory sync), on a pooled
    client per user agent; the token store comes from the caller's layer."""
    return Gateway(
        base=settings.ZWDD_API_BASE,
        app_key=settings.ZWDD_APP_KEY,
        secret=settings.ZWDD_APP_SECRET,
        client=_http(settings.ZWDD_HTTP_TIMEOUT, user_agent),
        token_get=token_get,
        token_invalidate=token_invalidate,
    )
