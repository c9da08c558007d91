"""The sign-in calls to the 浙政钉 platform, on the shared gateway signer."""

from __future__ import annotations

import logging
import re
from typing import Any

from notifications import redis_state
from portal import zwdd as gateway
from signin.services import Refusal, SigninRefused

logger = logging.getLogger(__name__)

USERINFO_PATH = "/rpc/oauth2/getuserinfo_bycode.json"  # scan / embedded QR code
APP_USER_PATH = "/rpc/oauth2/dingtalk_app_user.json"  # in-app (免登) authCode
# Codes are short opaque tokens; anything else is refused before a platform call.
CODE_RE = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")


def _gateway() -> gateway.Gateway:
    return gateway.settings_gateway(
        user_agent="zhixing-signin/1",
        token_get=redis_state.token_get,
        token_invalidate=redis_state.token_invalidate,
    )


def _user(path: str, params: dict[str, str]) -> dict[str, Any]:
    try:
        data = _gateway().call_with_token("POST", path, params)
    except gateway.GatewayError as exc:
        if exc.code == gateway.CODE_AUTH_CODE_INVALID:
            raise SigninRefused(Refusal.EXPIRED, exc.code) from exc
        if exc.is_configuration:
            logger.error(
                "浙政钉 sign-in is misconfigured (%s %s): check ZWDD_APP_KEY / ZWDD_APP_SECRET",
                exc.code,
                exc.message,
            )
            raise SigninRefused(Refusal.MISCONFIGURED, exc.code) from exc
        logger.warning("浙政钉 sign-in call failed: %s", exc)
        raise SigninRefused(Refusal.UNAVAILABLE, exc.code) from exc
    if not isinstance(data, dict) or not str(data.get("accountId") or "").strip():
        logger.warning("浙政钉 answered without an accountId: %r", data)
        raise SigninRefused(Refusal.UNAVAILABLE, "no_account_id")
    return data


def user_by_code(code: str) -> dict[str, Any]:
    """The signed-in 浙政钉 user for a scan's ``code`` (one use, short-lived)."""
    if not CODE_RE.match(code or ""):
        raise SigninRefused(Refusal.BAD_REQUEST, "code")
    return _user(USERINFO_PATH, {"code": code})


def user_by_app_auth_code(auth_code: str) -> dict[str, Any]:
    """The user of the 浙政钉 app for a JSAPI ``authCode`` (免登)."""
    if not CODE_RE.match(auth_code or ""):
        raise SigninRefused(Refusal.BAD_REQUEST, "authCode")
    return _user(APP_USER_PATH, {"auth_code": auth_code})
