"""SMS: Aliyun SendBatchSms (≤ 100 numbers per call) and Tencent SendSms (≤ 200).

Thin httpx clients with the providers' own request signing; the base URL comes from
``NOTIFY_SMS_ENDPOINT`` so tests and the benchmark point them at local fakes.
Neither API has an idempotency key: a read timeout makes the batch ``unknown`` and it is
reconciled (Aliyun: ``QuerySendDetails`` by our ``OutId``; Tencent:
``PullSmsSendStatusByPhoneNumber`` by our ``SessionContext``; both: delivery receipts).
Receipts: Aliyun pushes reports to our webhook; Tencent's are pulled
(``PullSmsSendStatus``, the ``notifications.poll_receipts`` beat task).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.utils import timezone

from notifications.providers import http
from notifications.providers.base import (
    ErrorKind,
    OutMessage,
    Provider,
    ProviderError,
    Receipt,
    SendResult,
    failed,
    ok,
)

SMS_PARAMS = ("title", "time", "link")
# Template parameters by message kind; a sign-in code has a template of its own, and a
# discussion digest's text is fixed but for the link (it has no lecture, so no time; and
# Tencent's parameters are positional, so the list must match the registered template).
SMS_PARAMS_BY_KIND: dict[str, tuple[str, ...]] = {"login_code": ("code",), "digest": ("link",)}


def sms_params(kind: str) -> tuple[str, ...]:
    return SMS_PARAMS_BY_KIND.get(kind, SMS_PARAMS)


ALIYUN_KINDS: dict[str, ErrorKind] = {
    "isp.SYSTEM_ERROR": ErrorKind.RETRYABLE,
    "SignatureNonceUsed": ErrorKind.RETRYABLE,
    "InvalidTimeStamp.Expired": ErrorKind.RETRYABLE,
    "ServiceUnavailable": ErrorKind.RETRYABLE,
    "Throttling.User": ErrorKind.THROTTLED,
    "isv.BUSINESS_LIMIT_CONTROL": ErrorKind.THROTTLED,
    "isv.MOBILE_NUMBER_ILLEGAL": ErrorKind.PERMANENT,
    "isv.DAY_LIMIT_CONTROL": ErrorKind.PERMANENT,
    "isv.MONTH_LIMIT_CONTROL": ErrorKind.PERMANENT,
    "isv.BLACKLIST": ErrorKind.PERMANENT,
    "isv.AMOUNT_NOT_ENOUGH": ErrorKind.FATAL,
    "isv.OUT_OF_SERVICE": ErrorKind.FATAL,
    "isv.SMS_TEMPLATE_ILLEGAL": ErrorKind.FATAL,
    "isv.SMS_SIGNATURE_ILLEGAL": ErrorKind.FATAL,
    "isv.TEMPLATE_MISSING_PARAMETERS": ErrorKind.FATAL,
    "isv.BLACK_KEY_CONTROL_LIMIT": ErrorKind.FATAL,
    "isv.INVALID_PARAMETERS": ErrorKind.FATAL,
    "InvalidAccessKeyId.NotFound": ErrorKind.FATAL,
    "SignatureDoesNotMatch": ErrorKind.FATAL,
}


def _pe(value: str) -> str:
    return quote(value, safe="~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    """Aliyun RPC signature (HMAC-SHA1 over the canonicalised, sorted parameters)."""
    canonical = "&".join(f"{_pe(k)}={_pe(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{_pe('/')}&{_pe(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _template_code(kind: str) -> str:
    codes: dict[str, str] = settings.NOTIFY_SMS_TEMPLATE_CODES
    return codes.get(kind) or codes.get("default") or f"SMS_ZHIXING_{kind.upper()}"


class AliyunSmsProvider(Provider):
    name = "aliyun"
    channel = "sms"
    batch_size = 100
    has_receipts = True

    def __init__(self) -> None:
        self.endpoint = (settings.NOTIFY_SMS_ENDPOINT or "https://dysmsapi.aliyuncs.com").rstrip(
            "/"
        )
        self.key_id = settings.NOTIFY_SMS_ACCESS_KEY_ID
        self.secret = settings.NOTIFY_SMS_ACCESS_KEY_SECRET
        self.sign_name = settings.NOTIFY_SMS_SIGN_NAME
        self.batch_size = min(settings.NOTIFY_SMS_BATCH_SIZE or 100, 100)
        self.http = http.client()

    def rate_key(self) -> str:
        return f"sms:aliyun:{self.key_id}"

    def _call(self, action: str, params: dict[str, str], *, idempotent: bool) -> dict[str, Any]:
        full = {
            "AccessKeyId": self.key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
            **params,
        }
        full["Signature"] = aliyun_signature(full, self.secret)
        response = http.request(
            self.http, "POST", f"{self.endpoint}/", idempotent=idempotent, data=full
        )
        return http.json_of(response)

    def send_batch(
        self, messages: Sequence[OutMessage], *, idempotency_key: str
    ) -> list[SendResult]:
        kinds = {m.kind for m in messages}
        if len(kinds) > 1:  # one template per call
            return [
                r
                for k in sorted(kinds)
                for r in self.send_batch(
                    [m for m in messages if m.kind == k], idempotency_key=idempotency_key
                )
            ]
        data = self._call(
            "SendBatchSms",
            {
                "PhoneNumberJson": json.dumps([m.address for m in messages]),
                "SignNameJson": json.dumps([self.sign_name] * len(messages), ensure_ascii=False),
                "TemplateCode": _template_code(messages[0].kind),
                "TemplateParamJson": json.dumps(
                    [{k: m.params.get(k, "") for k in sms_params(m.kind)} for m in messages],
                    ensure_ascii=False,
                ),
                "OutId": idempotency_key,
            },
            idempotent=False,
        )
        code = str(data.get("Code", ""))
        if code == "OK":
            biz_id = str(data.get("BizId", ""))
            return [ok(m, biz_id) for m in messages]
        kind = ALIYUN_KINDS.get(
            code, ErrorKind.RETRYABLE if code.startswith("isp.") else ErrorKind.FATAL
        )
        error = ProviderError(kind, code, str(data.get("Message", ""))[:200])
        if kind == ErrorKind.PERMANENT and len(messages) > 1:
            # One bad number fails the whole batch: find it by sending one at a time.
            results: list[SendResult] = []
            for i, m in enumerate(messages):
                try:
                    results.extend(self.send_batch([m], idempotency_key=f"{idempotency_key}.{i}"))
                except ProviderError as exc:
                    results.append(failed(m, exc))
            return results
        if kind == ErrorKind.PERMANENT:
            return [failed(messages[0], error)]
        raise error

    def reconcile(self, *, batch_id: str, addresses: Sequence[str]) -> dict[str, str] | None:
        found: dict[str, str] = {}
        send_date = timezone.localdate().strftime("%Y%m%d")
        for address in addresses:
            data = self._call(
                "QuerySendDetails",
                {
                    "PhoneNumber": address,
                    "SendDate": send_date,
                    "PageSize": "50",
                    "CurrentPage": "1",
                },
                idempotent=True,
            )
            if data.get("Code") != "OK":
                return None
            dtos = (data.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            for dto in dtos:
                if str(dto.get("OutId", "")).split(".")[0] == batch_id:
                    found[address] = str(dto.get("BizId") or dto.get("OutId"))
        return found

    def close(self) -> None:
        self.http.close()


TENCENT_KINDS: dict[str, ErrorKind] = {
    "InvalidParameterValue.IncorrectPhoneNumber": ErrorKind.PERMANENT,
    "LimitExceeded.PhoneNumberDailyLimit": ErrorKind.PERMANENT,
    "FailedOperation.PhoneNumberInBlacklist": ErrorKind.PERMANENT,
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": ErrorKind.FATAL,
    "FailedOperation.InsufficientBalanceInSmsPackage": ErrorKind.FATAL,
    "FailedOperation.TemplateIncorrectOrUnapproved": ErrorKind.FATAL,
    "FailedOperation.SignatureIncorrectOrUnapproved": ErrorKind.FATAL,
    "AuthFailure.SignatureFailure": ErrorKind.FATAL,
    "AuthFailure.SecretIdNotFound": ErrorKind.FATAL,
    "RequestLimitExceeded": ErrorKind.THROTTLED,
    "LimitExceeded.PhoneNumberThirtySecondLimit": ErrorKind.THROTTLED,
    "LimitExceeded.PhoneNumberOneHourLimit": ErrorKind.THROTTLED,
    "InternalError.Timeout": ErrorKind.RETRYABLE,
    "InternalError.RequestTimeException": ErrorKind.RETRYABLE,
}


def _tencent_kind(code: str) -> ErrorKind:
    if code in TENCENT_KINDS:
        return TENCENT_KINDS[code]
    if code.startswith("InternalError"):
        return ErrorKind.RETRYABLE
    if code.startswith("LimitExceeded") or code.startswith("RequestLimit"):
        return ErrorKind.THROTTLED
    if code.startswith("InvalidParameterValue"):
        return ErrorKind.PERMANENT
    return ErrorKind.FATAL


def tencent_authorization(
    *, secret_id: str, secret_key: str, host: str, payload: bytes, timestamp: int
) -> str:
    """TC3-HMAC-SHA256 for a JSON POST to ``/``."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
        f"host:{host}\n\ncontent-type;host\n{hashlib.sha256(payload).hexdigest()}"
    )
    scope = f"{day}/sms/tc3_request"
    to_sign = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )

    def _h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = _h(_h(_h(f"TC3{secret_key}".encode(), day), "sms"), "tc3_request")
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


# PullSmsSendStatusByPhoneNumber looks this far back for an unknown batch (seconds).
TENCENT_RECONCILE_WINDOW = 24 * 3600
# PullSmsSendStatus hands out at most this many reports per call.
TENCENT_PULL_LIMIT = 100


class TencentSmsProvider(Provider):
    name = "tencent"
    channel = "sms"
    batch_size = 200
    has_receipts = True
    reconcile_complete = False

    def __init__(self) -> None:
        self.endpoint = (settings.NOTIFY_SMS_ENDPOINT or "https://sms.tencentcloudapi.com").rstrip(
            "/"
        )
        self.host = urlsplit(self.endpoint).netloc
        self.secret_id = settings.NOTIFY_SMS_ACCESS_KEY_ID
        self.secret_key = settings.NOTIFY_SMS_ACCESS_KEY_SECRET
        self.batch_size = min(settings.NOTIFY_SMS_BATCH_SIZE or 200, 200)
        self.http = http.client()

    def rate_key(self) -> str:
        return f"sms:tencent:{self.secret_id}"

    def _call(self, action: str, payload: bytes, *, idempotent: bool) -> dict[str, Any]:
        """One signed API 3.0 call; returns the ``Response`` object."""
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Host": self.host,
            "X-TC-Action": action,
            "X-TC-Version": "2021-01-11",
            "X-TC-Region": settings.NOTIFY_SMS_REGION,
            "X-TC-Timestamp": str(timestamp),
            "Authorization": tencent_authorization(
                secret_id=self.secret_id,
                secret_key=self.secret_key,
                host=self.host,
                payload=payload,
                timestamp=timestamp,
            ),
        }
        response = http.request(
            self.http,
            "POST",
            f"{self.endpoint}/",
            idempotent=idempotent,
            content=payload,
            headers=headers,
        )
        data: dict[str, Any] = http.json_of(response).get("Response") or {}
        return data

    def send_batch(
        self, messages: Sequence[OutMessage], *, idempotency_key: str
    ) -> list[SendResult]:
        kinds = {m.kind for m in messages}
        if len(kinds) > 1:
            return [
                r
                for k in sorted(kinds)
                for r in self.send_batch(
                    [m for m in messages if m.kind == k], idempotency_key=idempotency_key
                )
            ]
        first = messages[0]
        payload = json.dumps(
            {
                "PhoneNumberSet": [f"+86{m.address}" for m in messages],
                "SmsSdkAppId": settings.NOTIFY_SMS_SDK_APP_ID,
                "SignName": settings.NOTIFY_SMS_SIGN_NAME,
                "TemplateId": _template_code(first.kind),
                "TemplateParamSet": [first.params.get(k, "") for k in sms_params(first.kind)],
                "SessionContext": idempotency_key,
            },
            ensure_ascii=False,
        ).encode()
        if any(m.params != first.params for m in messages[1:]):
            # One parameter set per call: messages with other texts go in their own calls.
            same = [m for m in messages if m.params == first.params]
            rest = [m for m in messages if m.params != first.params]
            return self.send_batch(same, idempotency_key=idempotency_key) + self.send_batch(
                rest, idempotency_key=f"{idempotency_key}.r"
            )
        data = self._call("SendSms", payload, idempotent=False)
        if "Error" in data:
            code = str(data["Error"].get("Code", ""))
            raise ProviderError(_tencent_kind(code), code, str(data["Error"].get("Message", "")))
        by_phone = {
            str(s.get("PhoneNumber", "")).removeprefix("+86"): s
            for s in data.get("SendStatusSet") or []
        }
        results: list[SendResult] = []
        for m in messages:
            status = by_phone.get(m.address)
            if status is None:
                results.append(failed(m, ProviderError(ErrorKind.UNKNOWN, "missing_status")))
            elif str(status.get("Code")) == "Ok":
                results.append(ok(m, str(status.get("SerialNo", ""))))
            else:
                code = str(status.get("Code"))
                results.append(
                    failed(m, ProviderError(_tencent_kind(code), code, str(status.get("Message"))))
                )
        return results

    def reconcile(self, *, batch_id: str, addresses: Sequence[str]) -> dict[str, str] | None:
        """``PullSmsSendStatusByPhoneNumber`` per number over the last day, matched by our
        batch id echoed as ``SessionContext`` (Tencent must have switched that echo on for
        the SdkAppId). Status rows exist only once the carrier has reported, so a number
        that is not found stays ``unknown`` (``reconcile_complete = False``)."""
        found: dict[str, str] = {}
        end = int(time.time())
        for address in addresses:
            payload = json.dumps(
                {
                    "BeginTime": end - TENCENT_RECONCILE_WINDOW,
                    "EndTime": end,
                    "Offset": 0,
                    "Limit": 100,
                    "PhoneNumber": f"+86{address}",
                    "SmsSdkAppId": settings.NOTIFY_SMS_SDK_APP_ID,
                }
            ).encode()
            data = self._call("PullSmsSendStatusByPhoneNumber", payload, idempotent=True)
            if "Error" in data:
                return None
            for status in data.get("PullSmsSendStatusSet") or []:
                if str(status.get("SessionContext") or "").split(".")[0] == batch_id:
                    found[address] = str(status.get("SerialNo") or batch_id)
        return found

    def pull_reports(self, *, limit: int) -> list[Receipt]:
        """``PullSmsSendStatus``: the account's next carrier reports (≤ 100 per call).

        Tencent hands each report out once (and only if it has switched pulling on for
        the SdkAppId). A report is matched by its ``SerialNo`` (our provider message id)
        or, for rows still ``unknown``/``sending``, by ``SessionContext`` = our batch id."""
        payload = json.dumps(
            {
                "Limit": max(1, min(limit, TENCENT_PULL_LIMIT)),
                "SmsSdkAppId": settings.NOTIFY_SMS_SDK_APP_ID,
            }
        ).encode()
        data = self._call("PullSmsSendStatus", payload, idempotent=False)
        if "Error" in data:
            code = str(data["Error"].get("Code", ""))
            raise ProviderError(_tencent_kind(code), code, str(data["Error"].get("Message", "")))
        receipts: list[Receipt] = []
        for status in data.get("PullSmsSendStatusSet") or []:
            phone = str(status.get("SubscriberNumber") or "") or str(
                status.get("PhoneNumber") or ""
            ).removeprefix("+86")
            receipts.append(
                Receipt(
                    provider_message_id=str(status.get("SerialNo") or ""),
                    address=phone,
                    delivered=str(status.get("ReportStatus", "")).upper() == "SUCCESS",
                    code=str(status.get("Description") or "")[:60],
                    batch_id=str(status.get("SessionContext") or "").split(".")[0],
                )
            )
        return receipts

    def close(self) -> None:
        self.http.close()
