"""浙政钉 (Zhezhengding) work notifications through the government open platform.

Requests are signed with the platform's HMAC headers; ``bizMsgId`` is the idempotency key,
so a batch that timed out or was stuck in a killed worker is resent with the same key and
the platform carries it out once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

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

ZWDD_KINDS: dict[str, ErrorKind] = {
    "SYSTEM_BUSY": ErrorKind.RETRYABLE,
    "RATE_LIMITED": ErrorKind.THROTTLED,
    "INVALID_RECEIVER": ErrorKind.PERMANENT,
    "APP_NOT_AUTHORISED": ErrorKind.FATAL,
    "QUOTA_EXCEEDED": ErrorKind.FATAL,
    "SIGNATURE_INVALID": ErrorKind.FATAL,
}
TOKEN_ERRORS = {"TOKEN_EXPIRED", "TOKEN_INVALID"}


def zwdd_signature(
    *, secret: str, method: str, timestamp: str, nonce: str, uri: str, params: dict[str, str]
) -> str:
    canonical = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    to_sign = f"{method}\n{timestamp}\n{nonce}\n{uri}\n{canonical}"
    return base64.b64encode(
        hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()
    ).decode()


class ZwddProvider(Provider):
    name = "zwdd"
    channel = "zwdd"
    idempotent = True

    def __init__(self) -> None:
        self.endpoint = settings.NOTIFY_ZWDD_ENDPOINT.rstrip("/")
        self.api_key = settings.NOTIFY_ZWDD_API_KEY
        self.secret = settings.NOTIFY_ZWDD_API_SECRET
        self.tenant_id = settings.NOTIFY_ZWDD_TENANT_ID
        self.batch_size = max(1, min(settings.NOTIFY_ZWDD_BATCH_SIZE, 1000))
        self.http = http.client()

    def rate_key(self) -> str:
        return f"zwdd:{self.api_key}"

    def _call(self, uri: str, params: dict[str, str]) -> dict[str, Any]:
        timestamp = timezone.localtime().isoformat(timespec="milliseconds")
        nonce = f"{int(datetime.now().timestamp() * 1000)}{uuid.uuid4().hex[:4]}"  # noqa: DTZ005
        headers = {
            "X-Hmac-Auth-Timestamp": timestamp,
            "X-Hmac-Auth-Version": "1.0",
            "X-Hmac-Auth-Nonce": nonce,
            "apiKey": self.api_key,
            "X-Hmac-Auth-Signature": zwdd_signature(
                secret=self.secret,
                method="POST",
                timestamp=timestamp,
                nonce=nonce,
                uri=uri,
                params=params,
            ),
        }
        response = http.request(
            self.http,
            "POST",
            f"{self.endpoint}{uri}",
            idempotent=True,
            data=params,
            headers=headers,
        )
        return http.json_of(response)

    def _fetch_token(self) -> tuple[str, int]:
        data = self._call("/gettoken.json", {"appkey": self.api_key, "appsecret": self.secret})
        content = (data.get("content") or {}).get("data") or {}
        if not data.get("success") or "accessToken" not in content:
            code = str(data.get("errorCode", "TOKEN"))
            raise ProviderError(ZWDD_KINDS.get(code, ErrorKind.FATAL), f"zwdd_{code}")
        return str(content["accessToken"]), int(content.get("expiresIn", 7200))

    def send_batch(
        self, messages: Sequence[OutMessage], *, idempotency_key: str
    ) -> list[SendResult]:
        first = messages[0]
        key = f"zwdd:{self.api_key}"
        msg = json.dumps({"msgtype": "text", "text": {"content": first.body}}, ensure_ascii=False)
        for attempt in (1, 2):
            token = redis_state.token_get(key=key, fetch=self._fetch_token)
            data = self._call(
                "/message/workNotification",
                {
                    "access_token": token,
                    "tenantId": self.tenant_id,
                    "receiverIds": ",".join(m.address for m in messages),
                    "bizMsgId": idempotency_key,
                    "msg": msg,
                },
            )
            if data.get("success") and (data.get("content") or {}).get("success", True):
                content = data.get("content") or {}
                message_id = str(content.get("data") or idempotency_key)
                invalid = set(content.get("invalidReceiverIds") or [])
                return [
                    failed(m, ProviderError(ErrorKind.PERMANENT, "zwdd_INVALID_RECEIVER"))
                    if m.address in invalid
                    else ok(m, message_id, delivered=False)
                    for m in messages
                ]
            code = str(data.get("errorCode") or (data.get("content") or {}).get("responseCode"))
            if code in TOKEN_ERRORS:
                redis_state.token_invalidate(key=key, token=token)
                if attempt == 1:
                    continue
            raise ProviderError(
                ZWDD_KINDS.get(code, ErrorKind.RETRYABLE),
                f"zwdd_{code}",
                str(data.get("errorMsg", ""))[:200],
            )
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.http.close()
