"""Linking a verified outside identity to a cadre of the directory — never creating one."""

from __future__ import annotations

import enum
import logging

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
    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


def zwdd_cadre_match(*, account_id: str, employee_code: str) -> User:
    """The cadre a first 浙政钉 sign-in belongs to, by the employee code the directory
    import recorded. Refuses unknown codes, deactivated cadres and a cadre already bound
    to a different 浙政钉 account (two accounts claiming one employee code)."""
    from allauth.socialaccount.models import SocialAccount

    user = User.objects.filter(zwdd_employee_code=employee_code).first() if employee_code else None
    if user is None:
        raise SigninRefused(Refusal.UNMATCHED, employee_code)
    if not user.is_active:
        raise SigninRefused(Refusal.INACTIVE, employee_code)
    other = SocialAccount.objects.filter(user=user, provider="zwdd").exclude(uid=account_id)
    if other.exists():
        audit_log_write(
            user=None,
            action="signin.zwdd_conflict",
            target=user,
            detail={"employee_code": employee_code, "account_id": account_id},
        )
        logger.warning(
            "浙政钉 account %s claims employee code %s, already bound to another account",
            account_id,
            employee_code,
        )
        raise SigninRefused(Refusal.CONFLICT, employee_code)
    return user


def zwdd_bind(*, user: User, account_id: str, save_account: object) -> None:
    """Bind the 浙政钉 account to ``user`` (``save_account`` saves allauth's SocialAccount)
    and record the accountId as the user's work-notice address when none is set."""
    try:
        with transaction.atomic():
            save_account()  # type: ignore[operator]
    except IntegrityError:
        # The same account was bound by a concurrent first sign-in: that binding stands.
        logger.info("浙政钉 account %s bound concurrently", account_id)
    audit_log_write(
        user=user, action="signin.zwdd_bound", target=user, detail={"account_id": account_id}
    )
    try:
        channel_binding_set(user=user, channel="zwdd", address=account_id)
    except ValidationError:
        logger.warning("浙政钉 account id %r is not a usable work-notice address", account_id)
