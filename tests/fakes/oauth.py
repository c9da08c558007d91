"""Fakes of the public DingTalk and WeChat sign-in endpoints, over real HTTP.

* ``DingtalkOAuthFake``: DingTalk's login page (``/oauth2/auth``, a person "confirms" by
  following their link, which carries ``authCode`` and ``state``), the user token
  (``POST /v1.0/oauth2/userAccessToken``, JSON) and the profile
  (``GET /v1.0/contact/users/me``; the mobile number only with the contact permission).
* ``WechatOAuthFake``: the official account's web authorisation inside WeChat
  (``/connect/oauth2/authorize``, ``snsapi_base``: a silent redirect with ``code`` for the
  current WeChat user) and ``/sns/oauth2/access_token`` (the openid), beside the template
  message API of ``WechatFake``.
"""

from __future__ import annotations

import html
import uuid
from typing import Any
from urllib.parse import urlencode

from tests.fakes.providers import WechatFake
from tests.fakes.server import FakeServer, Recorded, Reply


def _page(items: list[str]) -> Reply:
    body = (
        '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>钉钉登录</title>'
        "</head><body><h1>钉钉登录</h1>" + "".join(items) + "</body></html>"
    )
    return Reply(200, raw=body.encode(), headers={"Content-Type": "text/html; charset=utf-8"})


class DingtalkOAuthFake(FakeServer):
    client_id = "dingoa_zhixing"
    client_secret = "ding-secret"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.users: dict[str, dict[str, Any]] = {}  # openId → profile
        self.codes: dict[str, str] = {}  # authCode → openId (one use)
        self.tokens: dict[str, str] = {}  # accessToken → openId
        self.mobile_permission = True

    def add_user(
        self, open_id: str, *, nick: str, mobile: str = "", state_code: str = "86"
    ) -> None:
        self.users[open_id] = {
            "nick": nick,
            "openId": open_id,
            "unionId": f"u-{open_id}",
            "avatarUrl": "",
            "mobile": mobile,
            "stateCode": state_code,
        }

    def issue_code(self, open_id: str) -> str:
        code = uuid.uuid4().hex
        with self.lock:
            self.codes[code] = open_id
        return code

    def route(self, rec: Recorded, fault: str | None) -> Reply:
        if rec.path == "/oauth2/auth":
            q = rec.query
            if q.get("client_id") != self.client_id or q.get("prompt") != "consent":
                return Reply(400, raw=b"bad request", headers={"Content-Type": "text/plain"})
            links = []
            for open_id, user in self.users.items():
                target = (
                    q["redirect_uri"]
                    + "?"
                    + urlencode({"authCode": self.issue_code(open_id), "state": q.get("state", "")})
                )
                links.append(
                    f'<a class="confirm" data-open-id="{open_id}" href="{html.escape(target)}">'
                    f"{html.escape(user['nick'])}</a>"
                )
            return _page(links)
        if rec.path == "/v1.0/oauth2/userAccessToken":
            body = rec.json()
            with self.lock:
                found = self.codes.pop(body.get("code", ""), "")
            if (
                body.get("clientId") != self.client_id
                or body.get("clientSecret") != self.client_secret
                or body.get("grantType") != "authorization_code"
                or not found
            ):
                return Reply(400, {"code": "invalidAuthCode", "message": "不合法的临时授权码"})
            token = uuid.uuid4().hex
            self.tokens[token] = found
            return Reply(
                200,
                {"accessToken": token, "refreshToken": "r", "expireIn": 7200, "corpId": "ding1"},
            )
        if rec.path == "/v1.0/contact/users/me":
            open_id = self.tokens.get(rec.headers.get("x-acs-dingtalk-access-token", ""), "")
            if not open_id:
                return Reply(401, {"code": "InvalidAuthentication", "message": "token 无效"})
            profile = dict(self.users[open_id])
            if not self.mobile_permission:
                profile.pop("mobile")
                profile.pop("stateCode")
            return Reply(200, profile)
        return Reply(404, {"code": "NotFound"})


class WechatOAuthFake(WechatFake):
    secret = "wechat-secret"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current_openid = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"  # the person holding the phone
        self.oauth_codes: dict[str, str] = {}

    def route(self, rec: Recorded, fault: str | None) -> Reply:
        if rec.path == "/connect/oauth2/authorize":
            q = rec.query
            if q.get("appid") != self.appid or q.get("scope") != "snsapi_base":
                return Reply(400, raw=b"bad request", headers={"Content-Type": "text/plain"})
            code = uuid.uuid4().hex
            with self.lock:
                self.oauth_codes[code] = self.current_openid
            target = (
                q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
            )
            return Reply(302, raw=b"", headers={"Location": target, "Content-Type": "text/plain"})
        if rec.path == "/sns/oauth2/access_token":
            q = rec.query
            with self.lock:
                openid = self.oauth_codes.pop(q.get("code", ""), "")
            if q.get("appid") != self.appid or q.get("secret") != self.secret or not openid:
                return Reply(200, {"errcode": 40029, "errmsg": "invalid code"})
            return Reply(
                200,
                {
                    "access_token": uuid.uuid4().hex,
                    "expires_in": 7200,
                    "refresh_token": "r",
                    "openid": openid,
                    "scope": "snsapi_base",
                },
            )
        return super().route(rec, fault)
