"""Fakes of Aliyun SMS, Tencent SMS, WeChat and DingTalk (the parts we call); 浙政钉 is in
tests/fakes/zwdd.py."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from notifications.providers.sms import aliyun_signature
from tests.fakes.server import FakeServer, Recorded, Reply


@dataclass
class Sent:
    address: str
    text: str
    key: str  # our idempotency / batch key as the provider saw it
    message_id: str


class _SentLog:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.bad: set[str] = set()
        self._lock = threading.Lock()

    def record(self, items: list[Sent]) -> None:
        with self._lock:
            self.sent.extend(items)

    def counts(self) -> Counter[str]:
        return Counter(s.address for s in self.sent)

    def duplicates(self) -> dict[str, int]:
        return {a: n for a, n in self.counts().items() if n > 1}


class AliyunSmsFake(FakeServer, _SentLog):
    """POST / with Action=SendBatchSms | QuerySendDetails; RPC signature verified."""

    secret = "aliyun-secret"

    def __init__(self, **kwargs: Any) -> None:
        FakeServer.__init__(self, **kwargs)
        _SentLog.__init__(self)

    def dispatch(self, rec: Recorded) -> Reply | None:
        if rec.form().get("Action") == "QuerySendDetails":
            return self.route(rec, None)  # queries are not subject to faults
        return super().dispatch(rec)

    def route(self, rec: Recorded, fault: str | None) -> Reply:
        form = rec.form()
        signature = form.pop("Signature", "")
        if signature != aliyun_signature(form, self.secret):
            return Reply(400, {"Code": "SignatureDoesNotMatch", "Message": "bad signature"})
        if form.get("Action") == "QuerySendDetails":
            phone = form["PhoneNumber"]
            dtos = [
                {
                    "PhoneNum": s.address,
                    "OutId": s.key,
                    "BizId": s.message_id,
                    "SendStatus": 3,
                    "ErrCode": "DELIVERED",
                    "Content": s.text,
                }
                for s in self.sent
                if s.address == phone
            ]
            return Reply(
                200,
                {
                    "Code": "OK",
                    "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos},
                    "TotalCount": len(dtos),
                },
            )
        codes = {
            "throttle": "isv.BUSINESS_LIMIT_CONTROL",
            "quota": "isv.AMOUNT_NOT_ENOUGH",
            "system": "isp.SYSTEM_ERROR",
            "template": "isv.SMS_TEMPLATE_ILLEGAL",
        }
        if fault in codes:
            return Reply(200, {"Code": codes[fault], "Message": fault, "RequestId": "r"})
        phones = json.loads(form["PhoneNumberJson"])
        params = json.loads(form["TemplateParamJson"])
        if len(phones) > 100:
            return Reply(200, {"Code": "isv.MOBILE_COUNT_OVER_LIMIT", "Message": "too many"})
        if fault == "permanent" or any(p in self.bad for p in phones):
            return Reply(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "bad number"})
        biz_id = f"{int(time.time() * 1000)}^{uuid.uuid4().hex[:8]}"
        self.record(
            [
                Sent(p, json.dumps(v, ensure_ascii=False), form.get("OutId", ""), biz_id)
                for p, v in zip(phones, params, strict=True)
            ]
        )
        return Reply(200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": "r"})

    def reports(self, *, delivered: bool = True) -> list[dict[str, Any]]:
        """Delivery reports as Aliyun pushes them (SmsReport)."""
        return [
            {
                "phone_number": s.address,
                "send_time": "2026-11-27 10:00:00",
                "report_time": "2026-11-27 10:00:05",
                "success": delivered,
                "err_code": "DELIVERED" if delivered else "MK:0001",
                "err_msg": "用户接收成功",
                "sms_size": "1",
                "biz_id": s.message_id,
                "out_id": s.key,
            }
            for s in self.sent
        ]


class TencentSmsFake(FakeServer, _SentLog):
    """POST / with X-TC-Action SendSms | PullSmsSendStatusByPhoneNumber.

    Status rows appear only once "the carrier has reported": set ``reports_pending`` to
    hold them back (a real gap between acceptance and the report)."""

    def __init__(self, **kwargs: Any) -> None:
        FakeServer.__init__(self, **kwargs)
        _SentLog.__init__(self)
        self.reports_pending = False
        self.query_error = ""  # e.g. "UnauthorizedOperation": every status query fails
        # PullSmsSendStatus: each report is handed out once (``pulled`` holds the serials
        # already handed out; ``redeliver`` hands them out again, as a lost answer would).
        self.undelivered: set[str] = set()  # numbers whose carrier report says FAIL
        self.unreported: set[str] = set()  # numbers the carrier has not reported yet
        self.extra_reports: list[dict[str, Any]] = []  # e.g. another app on the account
        self.pulled: set[str] = set()
        self.redeliver = False
        self.pull_error = ""  # e.g. "FailedOperation.PullNotEnabled": every pull fails

    def dispatch(self, rec: Recorded) -> Reply | None:
        if rec.headers.get("x-tc-action") in (
            "PullSmsSendStatusByPhoneNumber",
            "PullSmsSendStatus",
        ):
            return self.route(rec, None)  # queries are not subject to faults
        return super().dispatch(rec)

    def _report(self, s: Sent) -> dict[str, Any]:
        failed = s.address in self.undelivered
        return {
            "UserReceiveTime": int(time.time()),
            "CountryCode": "86",
            "SubscriberNumber": s.address,
            "PhoneNumber": f"+86{s.address}",
            "SerialNo": s.message_id,
            "ReportStatus": "FAIL" if failed else "SUCCESS",
            "Description": "MK:0001" if failed else "DELIVRD",
            "SessionContext": s.key,
        }

    def _pull_status(self, body: dict[str, Any]) -> Reply:
        if self.pull_error:
            return Reply(200, {"Response": {"Error": {"Code": self.pull_error, "Message": "no"}}})
        limit = int(body.get("Limit") or 0)
        if not 0 < limit <= 100:
            return Reply(
                200,
                {"Response": {"Error": {"Code": "InvalidParameterValue", "Message": "Limit"}}},
            )
        rows: list[dict[str, Any]] = []
        with self.lock:
            if not self.reports_pending:
                queue = [
                    self._report(s) for s in self.sent if s.address not in self.unreported
                ] + self.extra_reports
                for report in queue:
                    if len(rows) >= limit:
                        break
                    if report["SerialNo"] in self.pulled and not self.redeliver:
                        continue
                    rows.append(report)
                self.pulled.update(r["SerialNo"] for r in rows)
        return Reply(200, {"Response": {"PullSmsSendStatusSet": rows, "RequestId": "r"}})

    def _status_by_phone(self, body: dict[str, Any]) -> Reply:
        if self.query_error:
            return Reply(200, {"Response": {"Error": {"Code": self.query_error, "Message": "no"}}})
        number = str(body.get("PhoneNumber", ""))
        rows = [
            {
                "UserReceiveTime": int(time.time()),
                "CountryCode": "86",
                "SubscriberNumber": s.address,
                "PhoneNumber": f"+86{s.address}",
                "SerialNo": s.message_id,
                "ReportStatus": "SUCCESS",
                "Description": "DELIVRD",
                "SessionContext": s.key,
            }
            for s in self.sent
            if f"+86{s.address}" == number and not self.reports_pending
        ]
        return Reply(200, {"Response": {"PullSmsSendStatusSet": rows, "RequestId": "r"}})

    def route(self, rec: Recorded, fault: str | None) -> Reply:
        if not rec.headers.get("authorization", "").startswith("TC3-HMAC-SHA256 Credential="):
            return Reply(
                200,
                {
                    "Response": {
                        "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "unsigned"}
                    }
                },
            )
        if rec.headers.get("x-tc-action") == "PullSmsSendStatusByPhoneNumber":
            return self._status_by_phone(rec.json())
        if rec.headers.get("x-tc-action") == "PullSmsSendStatus":
            return self._pull_status(rec.json())
        codes = {
            "throttle": "RequestLimitExceeded",
            "quota": "FailedOperation.InsufficientBalanceInSmsPackage",
            "system": "InternalError.Timeout",
        }
        if fault in codes:
            return Reply(
                200,
                {"Response": {"Error": {"Code": codes[fault], "Message": fault}, "RequestId": "r"}},
            )
        body = rec.json()
        statuses = []
        sent = []
        for number in body["PhoneNumberSet"]:
            phone = number.removeprefix("+86")
            if phone in self.bad or fault == "permanent":
                statuses.append(
                    {
                        "PhoneNumber": number,
                        "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                        "Message": "bad",
                        "SerialNo": "",
                    }
                )
                continue
            serial = uuid.uuid4().hex
            statuses.append(
                {
                    "PhoneNumber": number,
                    "Code": "Ok",
                    "Message": "send success",
                    "SerialNo": serial,
                    "SessionContext": body.get("SessionContext"),
                }
            )
            sent.append(
                Sent(
                    phone,
                    json.dumps(body["TemplateParamSet"], ensure_ascii=False),
                    body.get("SessionContext", ""),
                    serial,
                )
            )
        self.record(sent)
        return Reply(200, {"Response": {"SendStatusSet": statuses, "RequestId": "r"}})


class WechatFake(FakeServer, _SentLog):
    """/cgi-bin/token and /cgi-bin/message/template/send."""

    fault_paths = ("/cgi-bin/message",)

    def __init__(self, **kwargs: Any) -> None:
        FakeServer.__init__(self, **kwargs)
        _SentLog.__init__(self)
        self.tokens: set[str] = set()
        self.token_calls = 0
        self.appid = "wx0123456789abcdef"
        self._ids = itertools.count(200_000_001)

    def route(self, rec: Recorded, fault: str | None) -> Reply:
        if rec.path == "/cgi-bin/token":
            if rec.query.get("appid") != self.appid:
                return Reply(200, {"errcode": 40013, "errmsg": "invalid appid"})
            self.token_calls += 1
            token = f"tok-{self.token_calls}-{uuid.uuid4().hex[:6]}"
            self.tokens = {token}
            return Reply(200, {"access_token": token, "expires_in": 7200})
        if rec.query.get("access_token") not in self.tokens:
            return Reply(200, {"errcode": 40001, "errmsg": "invalid credential"})
        if fault == "token_expired":
            self.tokens = set()
            return Reply(200, {"errcode": 42001, "errmsg": "access_token expired"})
        codes = {"throttle": 45011, "quota": 45009, "system": -1, "permanent": 43004}
        if fault in codes:
            return Reply(200, {"errcode": codes[fault], "errmsg": fault})
        body = rec.json()
        if body["touser"] in self.bad:
            return Reply(200, {"errcode": 43004, "errmsg": "require subscribe"})
        msgid = next(self._ids)
        self.record([Sent(body["touser"], body["data"]["remark"]["value"], "", str(msgid))])
        return Reply(200, {"errcode": 0, "errmsg": "ok", "msgid": msgid})


class DingtalkFake(FakeServer, _SentLog):
    fault_paths = ("/topapi/message/corpconversation/asyncsend_v2",)

    def __init__(self, **kwargs: Any) -> None:
        FakeServer.__init__(self, **kwargs)
        _SentLog.__init__(self)
        self.tokens: set[str] = set()
        self.tasks: dict[str, list[str]] = {}
        self._ids = itertools.count(70_000_001)
        # getsendresult: users in ``bad`` are invalid; these sets put users in the other
        # lists; ``processing`` users are in no list yet (the task is still running).
        self.read: set[str] = set()
        self.failed: set[str] = set()
        self.forbidden: set[str] = set()
        self.processing: set[str] = set()
        self.result_errors: dict[str, int] = {}  # task id → errcode of its getsendresult

    def route(self, rec: Recorded, fault: str | None) -> Reply:
        if rec.path == "/gettoken":
            token = uuid.uuid4().hex
            self.tokens = {token}
            return Reply(200, {"errcode": 0, "access_token": token, "expires_in": 7200})
        if rec.query.get("access_token") not in self.tokens:
            return Reply(200, {"errcode": 40014, "errmsg": "invalid access_token"})
        if fault == "token_expired":
            self.tokens = set()
            return Reply(200, {"errcode": 42001, "errmsg": "expired"})
        codes = {"throttle": 90018, "quota": 43009, "system": -1}
        if fault in codes:
            return Reply(200, {"errcode": codes[fault], "errmsg": fault})
        body = rec.json()
        if rec.path.endswith("asyncsend_v2"):
            users = body["userid_list"].split(",")
            if len(users) > 100:
                return Reply(200, {"errcode": 40035, "errmsg": "too many users"})
            task_id = str(next(self._ids))
            self.tasks[task_id] = users
            self.record([Sent(u, body["msg"]["text"]["content"], "", task_id) for u in users])
            return Reply(200, {"errcode": 0, "task_id": int(task_id), "request_id": "r"})
        if rec.path.endswith("getsendresult"):
            task_id = str(body["task_id"])
            if task_id in self.result_errors:
                return Reply(200, {"errcode": self.result_errors[task_id], "errmsg": "error"})
            users = [u for u in self.tasks.get(task_id, []) if u not in self.processing]
            special = self.bad | self.read | self.failed | self.forbidden
            return Reply(
                200,
                {
                    "errcode": 0,
                    "send_result": {
                        "read_user_id_list": [u for u in users if u in self.read],
                        "unread_user_id_list": [u for u in users if u not in special],
                        "invalid_user_id_list": [u for u in users if u in self.bad],
                        "forbidden_user_id_list": [u for u in users if u in self.forbidden],
                        "failed_user_id_list": [u for u in users if u in self.failed],
                    },
                },
            )
        return Reply(404, {"errcode": 404})
