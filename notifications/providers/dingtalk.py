"""DingTalk work notices: ``asyncsend_v2`` (≤ 100 userids per call) + ``getsendresult``.

DingTalk silently drops a second identical message to the same user on the same day, so
the 24 h and 1 h texts differ. There is no idempotency key: a read timeout is ``unknown``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from notifications import redis_state
from notifications.providers import http
from notifications.providers.base import (
    ErrorKind,
    OutMessage,
    Provider,
    ProviderError,
    Receipt,
    SendResult,
    ok,
)

TOKEN_ERRORS = {40001, 40014, 42001, 88}
DINGTALK_KINDS: dict[int, ErrorKind] = {
    -1: ErrorKind.RETRYABLE,
    90002: ErrorKind.THROTTLED,
    90006: ErrorKind.THROTTLED,
    90018: ErrorKind.THROTTLED,
    40035: ErrorKind.FATAL,  # bad parameters (agent id, message)
    40089: ErrorKind.FATAL,  # invalid corpid / appkey
    60020: ErrorKind.FATAL,  # server IP not allowed
    43009: ErrorKind.FATAL,  # message quota for today used up
}


class DingtalkProvider(Provider):
    name = "dingtalk"
    channel = "dingtalk"
    has_receipts = True

    def __init__(self) -> None:
        self.endpoint = settings.NOTIFY_DINGTALK_ENDPOINT.rstrip("/")
        self.app_key = settings.NOTIFY_DINGTALK_APP_KEY
        self.app_secret = settings.NOTIFY_DINGTALK_APP_SECRET
        self.agent_id = settings.NOTIFY_DINGTALK_AGENT_ID
        self.batch_size = max(1, min(settings.NOTIFY_DINGTALK_BATCH_SIZE, 5000))
        self.http = http.client()

    def rate_key(self) -> str:
        return f"dingtalk:{self.app_key}"

    def _fetch_token(self) -> tuple[str, int]:
        response = http.request(
            self.http,
            "GET",
            f"{self.endpoint}/gettoken",
            idempotent=True,
            params={"appkey": self.app_key, "appsecret": self.app_secret},
        )
        data = http.json_of(response)
        if int(data.get("errcode", 0) or 0) != 0 or "access_token" not in data:
            code = int(data.get("errcode", 0) or 0)
            raise ProviderError(
                DINGTALK_KINDS.get(code, ErrorKind.FATAL),
                f"token_{code}",
                str(data.get("errmsg", "")),
            )
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    def _post(self, path: str, body: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        key = f"dingtalk:{self.app_key}"
        for attempt in (1, 2):
            token = redis_state.token_get(key=key, fetch=self._fetch_token)
            response = http.request(
                self.http,
                "POST",
                f"{self.endpoint}{path}",
                idempotent=idempotent,
                params={"access_token": token},
                content=json.dumps(body, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json"},
            )
            data = http.json_of(response)
            code = int(data.get("errcode", 0) or 0)
            if code in TOKEN_ERRORS:
                redis_state.token_invalidate(key=key, token=token)
                if attempt == 1:
                    continue
            if code != 0:
                raise ProviderError(
                    DINGTALK_KINDS.get(code, ErrorKind.RETRYABLE),
                    f"dingtalk_{code}",
                    str(data.get("errmsg", ""))[:200],
                )
            return data
        raise AssertionError("unreachable")

    def send_batch(
        self, messages: Sequence[OutMessage], *, idempotency_key: str
    ) -> list[SendResult]:
        first = messages[0]
        if any(m.body != first.body for m in messages[1:]):
            same = [m for m in messages if m.body == first.body]
            rest = [m for m in messages if m.body != first.body]
            return self.send_batch(same, idempotency_key=idempotency_key) + self.send_batch(
                rest, idempotency_key=f"{idempotency_key}.r"
            )
        data = self._post(
            "/topapi/message/corpconversation/asyncsend_v2",
            {
                "agent_id": self.agent_id,
                "userid_list": ",".join(m.address for m in messages),
                "msg": {"msgtype": "text", "text": {"content": first.body}},
            },
            idempotent=False,
        )
        task_id = str(data.get("task_id", ""))
        return [ok(m, task_id) for m in messages]

    def poll(self, provider_message_ids: Sequence[str]) -> list[Receipt]:
        receipts: list[Receipt] = []
        for task_id in provider_message_ids:
            data = self._post(
                "/topapi/message/corpconversation/getsendresult",
                {
                    "agent_id": self.agent_id,
                    "task_id": int(task_id) if task_id.isdigit() else task_id,
                },
                idempotent=True,
            )
            result = data.get("send_result") or {}
            for name, delivered in (
                ("read_user_id_list", True),
                ("unread_user_id_list", True),
                ("invalid_user_id_list", False),
                ("forbidden_user_id_list", False),
                ("failed_user_id_list", False),
            ):
                for userid in result.get(name) or []:
                    receipts.append(
                        Receipt(
                            task_id, str(userid), delivered, code=name.removesuffix("_user_id_list")
                        )
                    )
        return receipts

    def close(self) -> None:
        self.http.close()
