"""Preferences: opting out, withdrawing queued rows, a user's channel route."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone

from notifications import selectors
from notifications.exceptions import NotifyError, NotifyErrorCode
from notifications.models import (
    PUSH_CHANNELS,
    Channel,
    ChannelBinding,
    Delivery,
    NotifyPreference,
    ProgrammeOptOut,
)
from notifications.services.planning import _channel_order
from portal.models import User
from portal.services import audit_log_write

logger = logging.getLogger(__name__)


@transaction.atomic
def notify_preference_update(
    *,
    user: User,
    channel_order: Sequence[str],
    opted_out: bool,
    programme_opt_outs: Iterable[int],
) -> NotifyPreference:
    """Save the user's push channel order (empty = site default), the global opt-out and
    the programmes whose reminders they do not want pushed (the inbox always gets them).
    Applies to reminders planned and fallbacks made from now on, and withdraws the push
    rows of this user still queued (same transaction)."""
    order = [c for c in channel_order if c]
    if any(c not in PUSH_CHANNELS for c in order):
        raise NotifyError(NotifyErrorCode.BAD_CHANNEL)
    if len(set(order)) != len(order):
        raise NotifyError(NotifyErrorCode.CHANNEL_REPEATED)
    wanted = set(programme_opt_outs)
    allowed = set(selectors.programme_list_for_notice_prefs(user=user).values_list("pk", flat=True))
    if wanted - allowed:
        raise NotifyError(NotifyErrorCode.NOT_YOUR_PROGRAMME)
    preference, _created = NotifyPreference.objects.update_or_create(
        user=user, defaults={"channel_order": ",".join(order), "opted_out": opted_out}
    )
    ProgrammeOptOut.objects.filter(user=user).exclude(programme_id__in=wanted).delete()
    ProgrammeOptOut.objects.bulk_create(
        [ProgrammeOptOut(user=user, programme_id=p) for p in sorted(wanted)],
        ignore_conflicts=True,
    )
    if opted_out:
        delivery_withdraw_opted_out(user=user, programme_ids=None)
    elif wanted:
        delivery_withdraw_opted_out(user=user, programme_ids=wanted)
    return preference


# Why a queued row was cancelled by an opt-out (``Delivery.error_code``).
WITHDRAWN_OPTED_OUT = "opted_out"
WITHDRAWN_PROGRAMME_OPT_OUT = "programme_opt_out"


def delivery_withdraw_opted_out(
    *, user: User, programme_ids: Iterable[int] | None, by: User | None = None
) -> int:
    """Cancel the user's push rows still ``queued`` (all of them, or those of reminders of
    ``programme_ids``), with the opt-out as the reason. Rows already ``sending`` (claimed
    by a dispatcher: the conditional UPDATE waits for its lock, then no longer matches)
    or sent are left alone; the inbox is always kept. Call it inside the transaction that
    saves the opt-out. Returns rows cancelled."""
    rows = Delivery.objects.filter(user=user, status=Delivery.Status.QUEUED).exclude(
        channel=Channel.INBOX
    )
    reason = WITHDRAWN_OPTED_OUT
    programmes = None if programme_ids is None else sorted(set(programme_ids))
    if programmes is not None:
        rows = rows.filter(reminder__lecture__programme_id__in=programmes)
        reason = WITHDRAWN_PROGRAMME_OPT_OUT
    ids = list(rows.values_list("id", flat=True))
    if not ids:
        return 0
    count = Delivery.objects.filter(id__in=ids, status=Delivery.Status.QUEUED).update(
        status=Delivery.Status.CANCELLED,
        error_code=reason,
        error_detail="",
        fallback_done=True,
        updated_at=timezone.now(),
    )
    audit_log_write(
        user=by or user,
        action="notify.opt_out_withdraw",
        target=f"user:{user.pk}",
        detail={"cancelled": count, "programmes": programmes},
    )
    return count


def notice_route_for_user(*, user: User) -> list[str]:
    """The push channels the user would be tried on, in order (empty when opted out)."""
    preference = selectors.notify_preference_get(user=user)
    if preference is not None and preference.opted_out:
        return []
    profile = selectors.recipient_profiles(user_ids=[user.pk])[user.pk]
    order = _channel_order(preference.channel_order if preference else "")
    return [c for c in order if profile.addresses.get(c)]


def channel_binding_set(
    *, user: User, channel: str, address: str, appid: str = "", replace: bool = False
) -> bool:
    """Record where ``user`` is reached on ``channel`` from a verified identity (a 浙政钉
    or WeChat sign-in). An existing binding is kept unless ``replace``; returns whether a
    row was written."""
    from notifications.rendering import binding_validate

    binding_validate(channel=channel, address=address, appid=appid)
    existing = ChannelBinding.objects.filter(user=user, channel=channel).first()
    if existing is not None:
        if not replace or (existing.address, existing.appid) == (address, appid):
            return False
        existing.address, existing.appid, existing.verified = address, appid, True
        existing.save(update_fields=["address", "appid", "verified"])
        return True
    _binding, created = ChannelBinding.objects.get_or_create(
        user=user,
        channel=channel,
        defaults={"address": address, "appid": appid, "verified": True},
    )
    return created
