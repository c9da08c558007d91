"""WeChat Official Account template messages (one recipient per call).

Our own small client: ``GET /cgi-bin/token`` and ``POST /cgi-bin/message/template/send``
against ``NOTIFY_WECHAT_ENDPOINT``. The access_token is cached in Redis and shared by every
worker; on 40001/42001/40014 it is refreshed once and the call repeated once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

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

TOKEN_ERRORS = {40001, 42001, 40014}
WECHAT_KINDS: dict[int, ErrorKind] = {
    -1: ErrorKind.RETRYABLE,
    43004: ErrorKind.PERMANENT,  # the user does not follow the account
    40003: ErrorKind.PERMANENT,  # invalid openid
    43101: ErrorKind.PERMANENT,  # the user refused this template
    45009: ErrorKind.FATAL,  # daily API quota reached
    40037: ErrorKind.FATAL,  # invalid template_id
    40013: ErrorKind.FATAL,  # invalid appid
    40125: ErrorKind.FATAL,  # invalid secret
    48001: ErrorKind.FATAL,  # API not authorised
    45011: ErrorKind.THROTTLED,  # per-minute frequency limit
}


class WechatProvider(Provider):
    name = "wechat"
    channel = "wechat"
    batch_size = 1
    has_receipts = True

    def __init__(self) -> None:
        self.endpoint = settings.NOTIFY_WECHAT_ENDPOINT.rstrip("/")
        self.appid = settings.NOTIFY_WECHAT_APPID
        self.secret = settings.NOTIFY_WECHAT_SECRET
        self.http = http.client()

    def rate_key(self) -> str:
        return f"wechat:{self.appid}"

    def _fetch_token(self) -> tuple[str, int]:
        response = http.request(
            self.http,
            "GET",
            f"{self.endpoint}/cgi-bin/token",
            idempotent=True,
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )
        data = http.json_of(response)
        if "access_token" not in data:
            code = int(data.get("errcode", 0) or 0)
            raise ProviderError(
                WECHAT_KINDS.get(code, ErrorKind.FATAL),
                f"token_{code}",
                str(data.get("errmsg", "")),
            )
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    def _token(self) -> str:
        return redis_state.token_get(key=f"wechat:{self.appid}", fetch=self._fetch_token)

    def _send_one(self, message: OutMessage) -> SendResult:
        template_ids: dict[str, str] = settings.NOTIFY_WECHAT_TEMPLATE_IDS
        body = json.dumps(
            {
                "touser": message.address,
                "template_id": template_ids.get(message.kind) or template_ids.get("default", ""),
                "url": message.link,
                "data": {
                    "first": {"value": message.subject},
                    "keyword1": {"value": message.params.get("title", "")},
                    "keyword2": {"value": message.params.get("time", "")},
                    "keyword3": {"value": message.params.get("speaker", "")},
                    "remark": {"value": message.body},
                },
            },
            ensure_ascii=False,
        ).encode()
        for attempt in (1, 2):
            token = self._token()
            response = http.request(
                self.http,
                "POST",
                f"{self.endpoint}/cgi-bin/message/template/send",
                idempotent=False,
                params={"access_token": token},
                content=body,
                headers={"Content-Type": "application/json"},
            )
            data = http.json_of(response)
            code = int(data.get("errcode", 0) or 0)
            if code == 0:
                return ok(message, str(data.get("msgid", "")))
            if code in TOKEN_ERRORS:
                redis_state.token_invalidate(key=f"wechat:{self.appid}", token=token)
                if attempt == 1:
                    continue
                raise ProviderError(ErrorKind.RETRYABLE, f"wechat_{code}", "token refresh failed")
            kind = WECHAT_KINDS.get(code, ErrorKind.RETRYABLE)
            error = ProviderError(kind, f"wechat_{code}", str(data.get("errmsg", ""))[:200])
            if kind == ErrorKind.PERMANENT:
                return failed(message, error)
            raise error
        raise AssertionError("unreachable")

    def send_batch(
        self, messages: Sequence[OutMessage], *, idempotency_key: str
    ) -> list[SendResult]:
        return [self._send_one(m) for m in messages]

    def close(self) -> None:
        self.http.close()
