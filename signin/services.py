"""Linking a verified outside identity to a cadre of the directory — never creating one."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from notifications.services import channel_binding_set
from portal.models import User
from portal.services import audit_log_write

logger = logging.getLogger(__name__)


class Refusal(enum.StrEnum):
    """Why a sign-in was refused; each has its own Chinese page (signin/refused.html)."""

    UNMATCHED = "unmatched"  # no cadre of the directory has this identity
    INACTIVE = "inactive"  # the cadre is deactivated
    CONFLICT = "conflict"  # the cadre is bound to another account of the same platform
    EXPIRED = "expired"  # the platform's code expired or was used: scan again
    UNAVAILABLE = "unavailable"  # the platform did not answer properly: try again
    MISCONFIGURED = "misconfigured"  # our key/secret is wrong: an operator must act
    BAD_REQUEST = "bad_request"  # a callback without a usable code


class SigninRefused(Exception):
    def __init__(self, reason: Refusal, detail: str = "", *, provider: str = "zwdd") -> None:
        super().__init__(f"{provider} {reason}: {detail}" if detail else f"{provider} {reason}")
        self.reason = reason
        self.detail = detail
        self.provider = provider


PROVIDER_NAMES = {"zwdd": "浙政钉", "dingtalk": "钉钉", "weixin": "微信"}


def identity_cadre_check(*, provider: str, account_id: str, user: User | None, claim: str) -> User:
    """The cadre a first sign-in with ``provider`` belongs to: ``user`` as the directory
    matched it by ``claim`` (the 浙政钉 employee code, the DingTalk mobile number).
    Refuses no match, a deactivated cadre and a cadre already bound to a different account
    of the same provider (two accounts claiming one record: logged for the organisers)."""
    from allauth.socialaccount.models import SocialAccount

    if user is None:
        raise SigninRefused(Refusal.UNMATCHED, claim, provider=provider)
    if not user.is_active:
        raise SigninRefused(Refusal.INACTIVE, claim, provider=provider)
    other = SocialAccount.objects.filter(user=user, provider=provider).exclude(uid=account_id)
    if other.exists():
        audit_log_write(
            user=None,
            action=f"signin.{provider}_conflict",
            target=user,
            detail={"claim": claim, "account_id": account_id},
        )
        logger.warning(
            "%s account %s claims %s, whose cadre is bound to another account",
            provider,
            account_id,
            claim,
        )
        raise SigninRefused(Refusal.CONFLICT, claim, provider=provider)
    return user


def zwdd_cadre_match(*, account_id: str, employee_code: str) -> User:
    """By the employee code the directory import recorded."""
    user = User.objects.filter(zwdd_employee_code=employee_code).first() if employee_code else None
    return identity_cadre_check(
        provider="zwdd", account_id=account_id, user=user, claim=employee_code
    )


def dingtalk_cadre_match(*, account_id: str, mobile: str, state_code: str) -> User:
    """By the mobile number DingTalk verified (mainland numbers only), when the app has
    the permission to read it."""
    user = None
    if mobile and state_code in ("", "86"):
        user = User.objects.filter(phone=mobile).first()
    return identity_cadre_check(provider="dingtalk", account_id=account_id, user=user, claim=mobile)


# Where a bound identity reaches the cadre for notices: (channel, appid setting) by provider.
NOTICE_ADDRESS = {"zwdd": ("zwdd", ""), "weixin": ("wechat", "NOTIFY_WECHAT_APPID")}


def identity_bind(
    *, provider: str, user: User, account_id: str, save_account: Callable[[], object]
) -> None:
    """Bind the account to ``user`` (``save_account`` saves allauth's SocialAccount) and,
    for 浙政钉 and WeChat, record it as the user's notice address."""
    try:
        with transaction.atomic():
            save_account()
    except IntegrityError:
        # The same account was bound by a concurrent first sign-in: that binding stands.
        logger.info("%s account %s bound concurrently", provider, account_id)
    audit_log_write(
        user=user,
        action=f"signin.{provider}_bound",
        target=user,
        detail={"account_id": account_id},
    )
    notice_address_record(provider=provider, user=user, account_id=account_id, replace=False)


def notice_address_record(*, provider: str, user: User, account_id: str, replace: bool) -> None:
    if provider not in NOTICE_ADDRESS:
        return
    channel, appid_setting = NOTICE_ADDRESS[provider]
    appid = str(getattr(settings, appid_setting, "")) if appid_setting else ""
    try:
        channel_binding_set(
            user=user, channel=channel, address=account_id, appid=appid, replace=replace
        )
    except ValidationError:
        logger.warning("%s account id %r is not a usable notice address", provider, account_id)


def social_account_added(*, provider: str, user: User, account_id: str) -> None:
    """A signed-in user bound an account (WeChat from the notice preferences): it becomes
    their notice address for that channel, replacing an older one."""
    audit_log_write(
        user=user, action=f"signin.{provider}_bound", target=user, detail={"account_id": account_id}
    )
    notice_address_record(provider=provider, user=user, account_id=account_id, replace=True)
