"""Channels: pausing a channel on a fatal provider error, resuming it."""

from __future__ import annotations

import logging

from django.utils import timezone

from notifications.models import ChannelState
from portal.models import User
from portal.services import audit_log_write

logger = logging.getLogger(__name__)


def channel_pause(*, channel: str, reason: str) -> None:
    ChannelState.objects.update_or_create(
        channel=channel,
        defaults={"paused": True, "reason": reason[:200], "paused_at": timezone.now()},
    )
    audit_log_write(
        user=None,
        action="notify.channel_paused",
        target=f"channel:{channel}",
        detail={"reason": reason[:200]},
    )
    logger.error("channel %s paused: %s", channel, reason)


def channel_resume(*, channel: str, by: User | None) -> None:
    ChannelState.objects.filter(channel=channel).update(paused=False, reason="")
    audit_log_write(user=by, action="notify.channel_resumed", target=f"channel:{channel}")


def _is_paused(channel: str) -> bool:
    return ChannelState.objects.filter(channel=channel, paused=True).exists()
