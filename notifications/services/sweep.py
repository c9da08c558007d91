"""Sweep: finish what crashed workers left in ``sending``; reconcile ``unknown`` rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications.models import Delivery
from notifications.providers import provider_for
from notifications.providers.base import ProviderError
from notifications.services.dispatch import _rows_of_batch, delivery_fallback, delivery_send_rows
from notifications.services.reminders import reminder_finish_done

logger = logging.getLogger(__name__)

# ``unknown`` rows the provider's query could not find by the receipt deadline (Tencent).
UNRECONCILED = "unreconciled"


@dataclass
class SweepStats:
    resent: int = 0
    unknown: int = 0
    reconciled: int = 0
    requeued: int = 0
    fallbacks: int = 0
    done: int = 0


def delivery_sweep(*, now: datetime | None = None, stale_after: float | None = None) -> SweepStats:
    """Finish what crashed or slow workers left behind (run by beat every minute)."""
    now = now or timezone.now()
    stats = SweepStats()
    stale = now - timedelta(
        seconds=settings.NOTIFY_SENDING_TIMEOUT if stale_after is None else stale_after
    )
    # 1. rows stuck in sending: idempotent providers resend the same batch with the same key;
    #    the others are unknown (the provider may have them) and go to reconciliation.
    stuck = (
        Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=stale)
        .values_list("channel", "batch_id")
        .distinct()
    )
    for channel, batch_id in list(stuck):
        provider = provider_for(channel)
        try:
            if provider.idempotent:
                with transaction.atomic():
                    claimed = Delivery.objects.filter(
                        batch_id=batch_id, status=Delivery.Status.SENDING, claimed_at__lt=stale
                    ).update(claimed_at=now, attempts=F("attempts") + 1, updated_at=now)
                if claimed:
                    rows = _rows_of_batch(batch_id)
                    delivery_send_rows(
                        provider=provider, channel=channel, batch_id=batch_id, rows=rows
                    )
                    stats.resent += len(rows)
            else:
                stats.unknown += Delivery.objects.filter(
                    batch_id=batch_id, status=Delivery.Status.SENDING, claimed_at__lt=stale
                ).update(
                    status=Delivery.Status.UNKNOWN,
                    error_code="stuck",
                    updated_at=now,
                    fallback_after=now + timedelta(seconds=settings.NOTIFY_RECEIPT_DEADLINE),
                )
        finally:
            provider.close()
    # 2. unknown rows: ask the provider whether it has them (Aliyun QuerySendDetails by
    #    OutId, Tencent PullSmsSendStatusByPhoneNumber by SessionContext).
    unknown_batches = (
        Delivery.objects.filter(
            status=Delivery.Status.UNKNOWN,
            updated_at__lte=now - timedelta(seconds=settings.NOTIFY_RECONCILE_AFTER),
        )
        .exclude(batch_id="")
        .exclude(error_code=UNRECONCILED)
        .values_list("channel", "batch_id")
        .distinct()
    )
    for channel, batch_id in list(unknown_batches)[:200]:
        stats_r, stats_q = delivery_reconcile_batch(channel=channel, batch_id=batch_id)
        stats.reconciled += stats_r
        stats.requeued += stats_q
    # 3. no receipt by the deadline: try the user's next channel.
    overdue = list(
        Delivery.objects.filter(
            status__in=(Delivery.Status.ACCEPTED, Delivery.Status.UNKNOWN),
            fallback_after__lt=now,
            fallback_done=False,
        ).values_list("id", flat=True)[:50_000]
    )
    stats.fallbacks = delivery_fallback(delivery_ids=overdue)
    # (Receipts of providers without push are polled by ``receipt_poll``, its own task.)
    stats.done = reminder_finish_done(now=now)
    return stats


def delivery_reconcile_batch(*, channel: str, batch_id: str) -> tuple[int, int]:
    """Settle ``unknown`` rows of a batch by asking the provider. Returns (found, requeued)."""
    rows = list(
        Delivery.objects.filter(batch_id=batch_id, status=Delivery.Status.UNKNOWN).values_list(
            "id", "address"
        )
    )
    if not rows:
        return 0, 0
    provider = provider_for(channel)
    try:
        found = provider.reconcile(batch_id=batch_id, addresses=[a for _i, a in rows])
    except ProviderError:
        return 0, 0
    finally:
        provider.close()
    if found is None:
        return 0, 0
    now = timezone.now()
    n_hit = 0
    for i, a in rows:
        if a in found:
            n_hit += Delivery.objects.filter(id=i, status=Delivery.Status.UNKNOWN).update(
                status=Delivery.Status.ACCEPTED,
                provider_message_id=found[a][:100],
                error_code="",
                updated_at=now,
            )
    miss = [i for i, a in rows if a not in found]
    if not provider.reconcile_complete:
        _reconcile_keep_unknown(ids=miss, now=now)
        return n_hit, 0
    # The provider never got these: sending them now cannot double anything.
    n_miss = Delivery.objects.filter(id__in=miss, status=Delivery.Status.UNKNOWN).update(
        status=Delivery.Status.QUEUED,
        next_attempt_at=now,
        error_code="reconciled_missing",
        batch_id="",
        fallback_after=None,
        updated_at=now,
    )
    return n_hit, n_miss


def _reconcile_keep_unknown(*, ids: Sequence[int], now: datetime) -> None:
    """Rows a provider's query did not find when "not found" proves nothing (Tencent: only
    what the carrier reported shows): they stay ``unknown`` and are asked about again
    after ``NOTIFY_RECONCILE_AFTER``, until the receipt deadline has passed since the send
    (``error_code=unreconciled``: no more queries; a late receipt still settles them, and
    the fallback to the next channel has run by then)."""
    missing = Delivery.objects.filter(id__in=ids, status=Delivery.Status.UNKNOWN)
    give_up = now - timedelta(seconds=settings.NOTIFY_RECEIPT_DEADLINE)
    missing.filter(claimed_at__lt=give_up).update(error_code=UNRECONCILED, updated_at=now)
    missing.exclude(claimed_at__lt=give_up).update(updated_at=now)
