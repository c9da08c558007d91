"""The notices' personal data: its retention, and its part of a person's download
(registered with portal.privacy)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from notifications.models import (
    ChannelBinding,
    Delivery,
    InboxMessage,
    NotifyPreference,
    WebhookReplay,
)
from portal.models import User
from portal.privacy import personal_data_section, retention_purger

IN_FLIGHT = (Delivery.Status.QUEUED, Delivery.Status.SENDING)


@retention_purger("deliveries")
def deliveries_purge(now: datetime) -> int:
    """Delivery rows (a phone number or openid each) past DELIVERY_RETENTION_DAYS, once
    no longer in flight: a queued or sending row is never pulled from under the dispatcher."""
    cutoff = now - timedelta(days=settings.DELIVERY_RETENTION_DAYS)
    removed, _ = (
        Delivery.objects.filter(created_at__lt=cutoff).exclude(status__in=IN_FLIGHT).delete()
    )
    return int(removed)


@retention_purger("webhook_keys")
def webhook_keys_purge(now: datetime) -> int:
    """Receipt keys kept against replays: a provider retries for a day at most."""
    removed, _ = WebhookReplay.objects.filter(created_at__lt=now - timedelta(days=7)).delete()
    return int(removed)


def _when(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


@personal_data_section("notices")
def notices_section(user: User) -> dict[str, Any]:
    preference = NotifyPreference.objects.filter(user=user).first()
    return {
        "bindings": [
            {
                "channel": b.get_channel_display(),
                "address": b.address,
                "verified": b.verified,
                "since": _when(b.created_at),
            }
            for b in ChannelBinding.objects.filter(user=user).order_by("channel")
        ],
        "preferences": {
            "channel_order": preference.channel_order,
            "opted_out": preference.opted_out,
        }
        if preference
        else None,
        "inbox": [
            {"title": m.title, "received": _when(m.created_at), "read": _when(m.read_at)}
            for m in InboxMessage.objects.filter(user=user).order_by("-created_at")[:1000]
        ],
        "deliveries": [
            {
                "channel": d.get_channel_display(),
                "address": d.address,
                "status": d.get_status_display(),
                "at": _when(d.created_at),
            }
            for d in Delivery.objects.filter(user=user).order_by("-created_at")[:1000]
        ],
    }
