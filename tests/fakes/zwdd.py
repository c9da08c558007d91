"""A fake 浙政钉 open platform over real HTTP: the API host (signed calls: sign-in, work
notices, the organisation directory ``/mozi/...``) and the login host (the QR page, in
redirect and embedded modes).

The signature check is written here from the platform's SDK rules, independently of
``portal.zwdd``: parameters sorted by key case-insensitively, values as sent (decoded, never
URL-encoded), the path without the query. A client that sorts case-sensitively or signs
encoded values is refused with ``SignatureDoesNotMatch``, as the real gateway refuses it.

Faults (``inject``) on the API's ``/rpc/``, ``/message/`` and ``/mozi/`` paths: ``5xx``,
``timeout``, ``timeout_before`` (see ``FakeServer``), ``html`` (an HTML error page with
status 200, as a proxy on the government extranet answers), ``token_invalid`` (the app
token is revoked: the call answers ``240133``), ``throttle`` (the gateway's ``Throttling``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.fakes.providers import Sent, _SentLog
from tests.fakes.server import FakeServer, Recorded, Reply

TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def sdk_signature(
    secret: str, method: str, timestamp: str, nonce: str, path: str, params: list[tuple[str, str]]
) -> str:
    """``params`` as sent, in order: a repeated key (a list of codes) once per value."""
    lines = [method, timestamp, nonce, path]
    if params:
        ordered = sorted(params, key=lambda kv: kv[0].lower())  # stable: values keep order
        lines.append("&".join(k + "=" + v for k, v in ordered))
    mac = hmac.new(secret.encode("utf-8"), "\n".join(lines).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def _ok(data: Any) -> Reply:
    return Reply(
        200,
        {
            "success": True,
            "content": {
                "success": True,
                "data": data,
                "responseCode": "0",
                "responseMessage": "成功",
            },
        },
    )


def _refused(code: str, message: str) -> Reply:
    return Reply(
        200,
        {
            "success": True,
            "content": {"success": False, "responseCode": code, "responseMessage": message},
        },
    )


def _gateway_refused(code: str, message: str) -> Reply:
    return Reply(200, {"success": False, "errorCode": code, "errorMsg": message})


@dataclass
class _Code:
    account_id: str
    expires_at: float
    used: bool = False


class ZwddPlatformFake(FakeServer, _SentLog):
    """The API host: ``/gettoken.json``, the sign-in exchanges and work notifications."""

    app_key = "zk"
    secret = "zwdd-secret"
    client_id = "zhixing_dingoa"  # the app code (应用标识), distinct from the AppKey
    fault_paths = ("/rpc/", "/message/", "/mozi/")
    tenant_id = "196729"

    def __init__(self, **kwargs: Any) -> None:
        FakeServer.__init__(self, **kwargs)
        _SentLog.__init__(self)
        self.tokens: set[str] = set()
        self.token_fetches = 0
        self.users: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, _Code] = {}
        self.by_biz: dict[str, str] = {}
        self.code_ttl = 300.0
        self._codes_lock = threading.Lock()
        self.orgs: dict[str, dict[str, Any]] = {}
        self.sub_orgs: dict[str, list[str]] = {}
        self.org_employees: dict[str, list[str]] = {}
        self.employees: dict[str, dict[str, Any]] = {}
        self.root_code = ""

    # -- directory and codes -------------------------------------------------------------
    def add_user(self, account_id: str, *, employee_code: str, name: str) -> None:
        self.users[account_id] = {
            "accountId": int(account_id),
            "employeeCode": employee_code,
            "lastName": name,
            "nickNameCn": name,
            "realmId": 196729,
            "realmName": "浙江省",
            "tenantUserId": f"196729${account_id}",
            "namespace": "local",
            "clientId": self.client_id,
            "account": f"user{account_id}",
        }

    def issue_code(self, account_id: str, *, ttl: float | None = None) -> str:
        """What the platform hands out when this user confirms a scan (or opens the app)."""
        code = uuid.uuid4().hex
        with self._codes_lock:
            self.codes[code] = _Code(
                account_id, time.time() + (ttl if ttl is not None else self.code_ttl)
            )
        return code

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    # -- the organisation directory (/mozi/...) --------------------------------------------
    def add_org(
        self,
        code: str,
        name: str,
        *,
        parent: str | None = None,
        type_code: str = "GOV_UNIT",
        division: str = "",
    ) -> None:
        """An organisation; the first one added without a parent is the root."""
        self.orgs[code] = {
            "organizationCode": code,
            "organizationName": name,
            "parentCode": parent or "",
            "typeCode": type_code,
            "divisionCode": division,
            "status": "A",
        }
        self.sub_orgs.setdefault(code, [])
        self.org_employees.setdefault(code, [])
        if parent is None:
            self.root_code = self.root_code or code
        else:
            self.sub_orgs[parent].append(code)

    def remove_org(self, code: str) -> None:
        """The organisation and its employees' positions are gone (its subtree too)."""
        for child in list(self.sub_orgs.get(code, [])):
            self.remove_org(child)
        parent = self.orgs.pop(code)["parentCode"]
        if parent:
            self.sub_orgs[parent].remove(code)
        self.sub_orgs.pop(code, None)
        self.org_employees.pop(code, None)

    def add_employee(self, code: str, name: str, *, org: str, status: str = "A") -> None:
        self.employees[code] = {"employeeCode": code, "employeeName": name, "status": status}
        self.org_employees[org].append(code)

    def move_employee(self, code: str, *, to: str) -> None:
        for members in self.org_employees.values():
            if code in members:
                members.remove(code)
        self.org_employees[to].append(code)

    def _page(self, codes: list[str], params: dict[str, list[str]]) -> Reply:
        size = min(int(params.get("pageSize", ["20"])[0]), 100)
        page = int(params.get("pageNo", ["1"])[0])
        return _ok(codes[(page - 1) * size : page * size])

    def _directory(self, path: str, params: dict[str, list[str]]) -> Reply | None:
        if params.get("tenantId") != [self.tenant_id]:
            return _refused("100002", "tenantId 无效")
        if path == "/mozi/organization/getRootOrganization":
            return _ok(self.orgs[self.root_code] if self.root_code else None)
        if path == "/mozi/organization/pageSubOrganizationCodes":
            return self._page(self.sub_orgs.get(params["organizationCode"][0], []), params)
        if path == "/mozi/organization/pageOrganizationEmployeeCodes":
            return self._page(self.org_employees.get(params["organizationCode"][0], []), params)
        if path == "/mozi/organization/listOrganizationsByCodes":
            codes = params.get("organizationCodes", [])
            if len(codes) > 100:
                return _refused("100001", "最多 100 个")
            return _ok([self.orgs[c] for c in codes if c in self.orgs])
        if path == "/mozi/employee/listEmployeesByCodes":
            codes = params.get("employeeCodes", [])
            if len(codes) > 100:
                return _refused("100001", "最多 100 个")
            return _ok([self.employees[c] for c in codes if c in self.employees])
        return None

    # -- the gateway -----------------------------------------------------------------------
    def _params(self, rec: Recorded) -> dict[str, str]:
        return rec.query if rec.method == "GET" else rec.form()

    def _pairs(self, rec: Recorded) -> list[tuple[str, str]]:
        if rec.method == "GET":
            return list(rec.query.items())
        return parse_qsl(rec.body.decode(), keep_blank_values=True)

    def _signature_ok(self, rec: Recorded) -> bool:
        h = rec.headers
        if h.get("apikey") != self.app_key or h.get("x-hmac-auth-version") != "1.0":
            return False
        if not (
            h.get("x-hmac-auth-ip") and h.get("x-hmac-auth-mac") and h.get("x-hmac-auth-nonce")
        ):
            return False
        timestamp = h.get("x-hmac-auth-timestamp", "")
        if not TIMESTAMP_RE.match(timestamp):
            return False
        expected = sdk_signature(
            self.secret, rec.method, timestamp, h["x-hmac-auth-nonce"], rec.path, self._pairs(rec)
        )
        return hmac.compare_digest(h.get("x-hmac-auth-signature", ""), expected)

    def route(self, rec: Recorded, fault: str | None) -> Reply:
        if not self._signature_ok(rec):
            return _gateway_refused("SignatureDoesNotMatch", "signature does not match")
        if fault == "html":
            return Reply(
                200,
                raw=b"<html><body>502 Bad Gateway</body></html>",
                headers={"Content-Type": "text/html"},
            )
        if fault == "throttle":
            return _gateway_refused("Throttling", "too many requests")
        params = self._params(rec)
        if rec.path == "/gettoken.json":
            if (
                rec.method != "GET"
                or params.get("appkey") != self.app_key
                or params.get("appsecret") != self.secret
            ):
                return _refused("240001", "appkey or appsecret is wrong")
            token = uuid.uuid4().hex
            with self.lock:
                self.tokens.add(token)
                self.token_fetches += 1
            return _ok({"accessToken": token, "expiresIn": 7200})
        if fault == "token_invalid":
            with self.lock:
                self.tokens.clear()
        if params.get("access_token") not in self.tokens:
            return _refused("240133", "access_token 无效")
        if rec.path == "/rpc/oauth2/getuserinfo_bycode.json":
            return self._user_for(params.get("code", ""))
        if rec.path == "/rpc/oauth2/dingtalk_app_user.json":
            return self._user_for(params.get("auth_code", ""))
        if rec.path == "/message/workNotification":
            return self._work_notification(params)
        if rec.path.startswith("/mozi/"):
            multi: dict[str, list[str]] = {}
            for key, value in self._pairs(rec):
                multi.setdefault(key, []).append(value)
            reply = self._directory(rec.path, multi)
            if reply is not None:
                return reply
        return Reply(404, {"success": False, "errorCode": "ApiNotFound"})

    def _user_for(self, code: str) -> Reply:
        with self._codes_lock:
            entry = self.codes.get(code)
            if entry is None or entry.used or entry.expires_at < time.time():
                return _refused("240111", "code 已失效或已使用")
            entry.used = True
        return _ok(self.users[entry.account_id])

    def _work_notification(self, form: dict[str, str]) -> Reply:
        biz = form["bizMsgId"]
        with self.lock:
            if biz in self.by_biz:  # idempotent: the same bizMsgId is carried out once
                return _ok({"msgId": self.by_biz[biz], "invalidReceiverIds": []})
            msg_id = uuid.uuid4().hex
            self.by_biz[biz] = msg_id
        receivers = form["receiverIds"].split(",")
        invalid = [r for r in receivers if r in self.bad]
        text = json.loads(form["msg"])["text"]["content"]
        self.record([Sent(r, text, biz, msg_id) for r in receivers if r not in invalid])
        return _ok({"msgId": msg_id, "invalidReceiverIds": invalid})


class ZwddLoginFake(FakeServer):
    """The login host's QR page. A person "scans and confirms" by clicking their name: in
    redirect mode the page sends the browser to ``redirect_uri?code=…&state=…``; in embed
    mode (``embedMode=true``, inside our iframe) it posts ``{code, state}`` to the parent."""

    def __init__(self, platform: ZwddPlatformFake, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.platform = platform

    #: the 浙政钉 app's signed-in user, for the JSAPI's getAuthCode (免登); None: no app
    app_account: str | None = None

    def _jsapi(self) -> Reply:
        """A stand-in for the platform's JSAPI script, as the 浙政钉 app's container answers
        ``dd.getAuthCode`` for its signed-in user (the native bridge is the boundary)."""
        code = self.platform.issue_code(self.app_account) if self.app_account else ""
        script = (
            "window.dd = {getAuthCode: function () { return Promise.resolve({code: "
            + json.dumps(code)
            + "}); }};"
        )
        return Reply(200, raw=script.encode(), headers={"Content-Type": "application/javascript"})

    def route(self, rec: Recorded, fault: str | None) -> Reply:
        if rec.path == "/jsapi.js":
            return self._jsapi()
        if rec.path != "/oauth2/auth.htm":
            return Reply(404, raw=b"not found", headers={"Content-Type": "text/plain"})
        q = rec.query
        problems = [
            name
            for name, ok in (
                ("response_type", q.get("response_type") == "code"),
                ("client_id", q.get("client_id") == self.platform.client_id),
                ("scope", q.get("scope") == "get_user_info"),
                ("authType", q.get("authType") == "QRCODE"),
                ("redirect_uri", q.get("redirect_uri", "").startswith("http")),
                ("state", bool(q.get("state"))),
            )
            if not ok
        ]
        if problems:
            listed = html.escape(",".join(problems))
            body = f"<html><body><h1>参数错误</h1><p>{listed}</p></body></html>"
            return Reply(
                400, raw=body.encode(), headers={"Content-Type": "text/html; charset=utf-8"}
            )
        embed = q.get("embedMode") == "true"
        items = []
        for account_id, user in self.platform.users.items():
            code = self.platform.issue_code(account_id)
            label = html.escape(f"确认登录：{user['lastName']}")
            if embed:
                items.append(
                    f'<button class="confirm" data-account="{account_id}" '
                    f'data-code="{code}">{label}</button>'
                )
            else:
                target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
                items.append(
                    f'<a class="confirm" data-account="{account_id}" '
                    f'href="{html.escape(target)}">{label}</a>'
                )
        script = ""
        if embed:
            state = json.dumps(q["state"])
            script = (
                "<script>document.querySelectorAll('button.confirm').forEach(function(b){"
                "b.addEventListener('click',function(){window.parent.postMessage("
                "{code:b.dataset.code,state:" + state + "},'*');});});</script>"
            )
        body = (
            '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8">'
            "<title>浙政钉扫码登录</title>"
            "</head><body><h1>浙政钉扫码登录</h1>" + "".join(items) + script + "</body></html>"
        )
        return Reply(200, raw=body.encode(), headers={"Content-Type": "text/html; charset=utf-8"})
