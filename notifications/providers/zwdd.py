"""浙政钉 (Zhezhengding) work notifications through the government open platform.

Calls are signed by the one gateway signer (``portal.zwdd``); ``bizMsgId`` is the
idempotency key, so a batch that timed out or was stuck in a killed worker is resent with
the same key and the platform carries it out once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx
from django.conf import settings

from notifications import redis_state
from notifications.providers import http
from notifications.providers.base import (
    ErrorKind,
    OutMessage,
    Provider,
    ProviderError,
    SendResult,
    failed,
    ok,
)
from portal import zwdd as gateway

# Gateway-level refusals by name; the API's numeric responseCodes not listed here are
# retried (the platform publishes few of them), the token code is handled by the gateway.
GATEWAY_KINDS: dict[str, ErrorKind] = {
    "Throttling": ErrorKind.THROTTLED,
    "Throttling.User": ErrorKind.THROTTLED,
    "Throttling.Api": ErrorKind.THROTTLED,
    "ServiceUnavailable": ErrorKind.RETRYABLE,
}


def _kind(exc: gateway.GatewayError) -> ErrorKind:
    if exc.is_configuration:
        return ErrorKind.FATAL
    if exc.gateway:
        return GATEWAY_KINDS.get(exc.code, ErrorKind.FATAL)
    return ErrorKind.RETRYABLE


class _NoticeGateway(gateway.Gateway):
    """Transport failures mapped the notifications way (retryable / unknown / throttled)."""

    def send(
        self, method: str, url: str, *, headers: dict[str, str], params: gateway.Params
    ) -> httpx.Response:
        return http.request(
            self.client,
            method,
            url,
            idempotent=True,
            headers=headers,
            **gateway.request_kwargs(method, params),
        )


class ZwddProvider(Provider):
    name = "zwdd"
    channel = "zwdd"
    idempotent = True

    def __init__(self) -> None:
        self.api_key = settings.NOTIFY_ZWDD_API_KEY
        self.tenant_id = settings.NOTIFY_ZWDD_TENANT_ID
        self.batch_size = max(1, min(settings.NOTIFY_ZWDD_BATCH_SIZE, 1000))
        self.http = http.client()
        self.gateway = _NoticeGateway(
            base=settings.NOTIFY_ZWDD_ENDPOINT,
            app_key=self.api_key,
            secret=settings.NOTIFY_ZWDD_API_SECRET,
            client=self.http,
            token_get=redis_state.token_get,
            token_invalidate=redis_state.token_invalidate,
        )

    def rate_key(self) -> str:
        return f"zwdd:{self.api_key}"

    def send_batch(
        self, messages: Sequence[OutMessage], *, idempotency_key: str
    ) -> list[SendResult]:
        first = messages[0]
        msg = json.dumps({"msgtype": "text", "text": {"content": first.body}}, ensure_ascii=False)
        try:
            data = self.gateway.call_with_token(
                "POST",
                "/message/workNotification",
                {
                    "tenantId": self.tenant_id,
                    "receiverIds": ",".join(m.address for m in messages),
                    "bizMsgId": idempotency_key,
                    "msg": msg,
                },
            )
        except gateway.GatewayError as exc:
            raise ProviderError(_kind(exc), f"zwdd_{exc.code}", exc.message) from exc
        content = data if isinstance(data, dict) else {"msgId": data}
        message_id = str(content.get("msgId") or idempotency_key)
        invalid = set(content.get("invalidReceiverIds") or [])
        return [
            failed(m, ProviderError(ErrorKind.PERMANENT, "zwdd_invalid_receiver"))
            if m.address in invalid
            else ok(m, message_id, delivered=False)
            for m in messages
        ]

    def close(self) -> None:
        self.http.close()
