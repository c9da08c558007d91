"""Receipts: delivery reports pushed to webhooks or pulled by polling."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications import selectors
from notifications.models import Delivery
from notifications.providers import channel_rate, provider_for
from notifications.providers.base import ErrorKind, Provider, ProviderError, Receipt
from notifications.redis_state import quota_take
from notifications.services.dispatch import delivery_fallback

logger = logging.getLogger(__name__)


def receipt_apply(*, channel: str, receipts: Sequence[Receipt]) -> int:
    """Apply delivery reports; never downgrades a delivered row. Returns rows changed."""
    now = timezone.now()
    changed = 0
    fallback_ids: list[int] = []
    pending = (Delivery.Status.ACCEPTED, Delivery.Status.UNKNOWN, Delivery.Status.SENDING)
    groups: dict[tuple[str, str, bool, str], list[str]] = defaultdict(list)
    for receipt in receipts:
        groups[
            (receipt.provider_message_id, receipt.batch_id, receipt.delivered, receipt.code)
        ].append(receipt.address)
    for (pmid, batch_id, delivered, code), addresses in groups.items():
        match = Q(provider_message_id=pmid) if pmid else Q(pk__in=[])
        if batch_id:
            match |= Q(batch_id=batch_id)
        qs = Delivery.objects.filter(
            match, channel=channel, address__in=addresses, status__in=pending
        )
        if delivered:
            changed += qs.update(
                status=Delivery.Status.DELIVERED,
                error_code="",
                error_detail="",
                updated_at=now,
                **({"provider_message_id": pmid} if pmid else {}),
            )
        else:
            ids = list(qs.values_list("id", flat=True))
            changed += Delivery.objects.filter(id__in=ids, status__in=pending).update(
                status=Delivery.Status.FAILED,
                error_code=(code or "undelivered")[:60],
                updated_at=now,
            )
            fallback_ids.extend(ids)
    delivery_fallback(delivery_ids=fallback_ids)
    return changed


def webhook_replay_check(*, key: str, max_age: timedelta | None = None) -> bool:
    """Record a webhook key; False if it was seen before (a replay)."""
    from django.db import IntegrityError

    from notifications.models import WebhookReplay

    try:
        with transaction.atomic():
            WebhookReplay.objects.create(key=key[:100])
    except IntegrityError:
        return False
    return True


# A DingTalk task is first asked about this long after it was sent.
POLL_FIRST_AFTER = timedelta(seconds=30)


@dataclass
class PollStats:
    channel: str
    calls: int = 0
    reports: int = 0
    applied: int = 0
    unmatched: int = 0  # reports about no row of ours (ignored)
    errors: int = 0


def _poll_apply(*, stats: PollStats, receipts: Sequence[Receipt]) -> None:
    """Apply one answer's reports at once (a crash loses at most the call in flight)."""
    stats.calls += 1
    if not receipts:
        return
    stats.reports += len(receipts)
    stats.unmatched += selectors.receipt_count_unmatched(channel=stats.channel, receipts=receipts)
    stats.applied += receipt_apply(channel=stats.channel, receipts=receipts)


def _poll_token(*, provider: Provider, channel: str, deadline: float) -> bool:
    """One token of the provider account's shared bucket (polls count like sends)."""
    while True:
        granted, wait = quota_take(key=provider.rate_key(), rate=channel_rate(channel))
        if granted:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(wait, 1.0, remaining))


def _poll_pull(*, provider: Provider, stats: PollStats, deadline: float) -> None:
    """Providers that queue reports for the account (Tencent ``PullSmsSendStatus``):
    pull pages until the queue is empty, the page cap or the time budget is reached."""
    from notifications.providers.sms import TENCENT_PULL_LIMIT

    for _page in range(settings.NOTIFY_TENCENT_PULL_PAGES):
        if time.monotonic() >= deadline or not _poll_token(
            provider=provider, channel=stats.channel, deadline=deadline
        ):
            return
        try:
            receipts = provider.pull_reports(limit=TENCENT_PULL_LIMIT)
        except ProviderError as error:
            stats.errors += 1
            logger.warning("pulling %s reports failed: %s", stats.channel, error)
            return
        _poll_apply(stats=stats, receipts=receipts)
        if len(receipts) < TENCENT_PULL_LIMIT:
            return


def _poll_tasks(*, provider: Provider, stats: PollStats, deadline: float, now: datetime) -> None:
    """Providers asked per message id (DingTalk ``getsendresult`` per task): accepted
    tasks until every user of the task has a final answer, never past the receipt
    deadline (the fallback takes over then). Least recently asked tasks first."""
    task_ids = selectors.delivery_poll_task_ids(
        channel=stats.channel,
        sent_before=now - POLL_FIRST_AFTER,
        deadline_after=now,
        limit=settings.NOTIFY_DINGTALK_POLL_TASKS,
    )
    for task_id in task_ids:
        if time.monotonic() >= deadline or not _poll_token(
            provider=provider, channel=stats.channel, deadline=deadline
        ):
            return
        try:
            receipts = provider.poll([task_id])
        except ProviderError as error:
            stats.errors += 1
            logger.warning("polling %s task %s failed: %s", stats.channel, task_id, error)
            if error.kind in (ErrorKind.THROTTLED, ErrorKind.FATAL):
                return
            continue
        _poll_apply(stats=stats, receipts=receipts)
        # Users without a final answer yet: asked again after the other tasks.
        Delivery.objects.filter(
            channel=stats.channel, provider_message_id=task_id, status=Delivery.Status.ACCEPTED
        ).update(updated_at=timezone.now())


def receipt_poll(
    *, channel: str, now: datetime | None = None, time_budget: float | None = None
) -> PollStats:
    """Fetch delivery reports of ``channel`` from providers without push receipts and
    update the rows through ``receipt_apply`` (idempotent: a report applied twice
    changes nothing; reports about no row of ours are counted and ignored)."""
    now = now or timezone.now()
    stats = PollStats(channel=channel)
    if time_budget is None:  # two polling channels fit in 80 % of the beat interval
        time_budget = max(5.0, 0.4 * settings.NOTIFY_RECEIPT_POLL_SECONDS)
    deadline = time.monotonic() + time_budget
    provider = provider_for(channel)
    try:
        if type(provider).pull_reports is not Provider.pull_reports:
            _poll_pull(provider=provider, stats=stats, deadline=deadline)
        elif type(provider).poll is not Provider.poll:
            _poll_tasks(provider=provider, stats=stats, deadline=deadline, now=now)
    finally:
        provider.close()
    if stats.calls:
        logger.info(
            "polled %s receipts: %s calls, %s reports, %s rows changed, %s unmatched, %s errors",
            channel,
            stats.calls,
            stats.reports,
            stats.applied,
            stats.unmatched,
            stats.errors,
        )
    return stats


def receipt_poll_all(*, now: datetime | None = None) -> list[PollStats]:
    """Every switched-on channel (the beat task)."""
    return [receipt_poll(channel=channel, now=now) for channel in settings.NOTIFY_CHANNELS]
