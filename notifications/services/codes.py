"""Sign-in codes by SMS: the notifications SMS path with a template of its own.

Sent at once, not through the outbox: a code is useful for minutes, is never retried into
a second valid message, and its text is not stored (no ``Delivery`` row keeps it)."""

from __future__ import annotations

import logging
import uuid

from django.utils.translation import gettext as _

from notifications.providers import provider_for
from notifications.providers.base import OutMessage, ProviderError

logger = logging.getLogger(__name__)

LOGIN_CODE_KIND = "login_code"


def sms_login_code_send(*, user_id: int, phone: str, code: str, minutes: int) -> bool:
    """Send ``code`` to ``phone``; False (logged) when the provider refused or failed.

    The caller shows the same page either way, so a failure reveals nothing about the
    number; the cadre asks again after the resend interval."""
    body = _("Your Zhixing sign-in code is %(code)s, valid for %(minutes)s minutes.") % {
        "code": code,
        "minutes": minutes,
    }
    message = OutMessage(
        0, 0, user_id, phone, "", body, "", LOGIN_CODE_KIND, {"code": code, "minutes": str(minutes)}
    )
    provider = provider_for("sms")
    try:
        result = provider.send_batch([message], idempotency_key=f"code-{uuid.uuid4().hex}")[0]
    except ProviderError as exc:
        logger.warning("sign-in code to user %s not sent: %s", user_id, exc)
        return False
    finally:
        provider.close()
    if not result.ok:
        logger.warning("sign-in code to user %s refused: %s", user_id, result.error)
    return result.ok
