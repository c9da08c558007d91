"""Celery tasks: thin wrappers that take ids/primitives and call one service.

No long ETAs: due reminders are rows that ``notifications.tick`` claims every minute; retry
times are ``next_attempt_at`` columns, picked up by the next dispatch.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

DISPATCH_CHANNELS = ("inbox",)


def _channels() -> list[str]:
    return ["inbox", *settings.NOTIFY_CHANNELS]


def dispatch_kick(*, channels: list[str] | None = None) -> None:
    """Start dispatchers (on their own queue per channel when configured)."""
    for channel in channels or _channels():
        queue = f"notify.{channel}" if settings.NOTIFY_QUEUE_PER_CHANNEL else None
        for _i in range(max(1, settings.NOTIFY_DISPATCH_CONCURRENCY)):
            notice_dispatch_task.apply_async(args=[channel], queue=queue)


@shared_task(name="notifications.tick", ignore_result=True)
def notice_tick_task() -> None:
    """Every minute: default reminders for upcoming lectures, claim due ones, plan them."""
    from courses.models import Lecture
    from courses.selectors import lecture_queryset, lecture_status_q
    from notifications.models import Delivery
    from notifications.services import reminder_claim_due, reminder_ensure_defaults

    now = timezone.now()
    upcoming = lecture_queryset().filter(
        lecture_status_q(Lecture.Status.SCHEDULED, now=now),
        starts_at__lte=now + timedelta(days=settings.NOTIFY_SCAN_DAYS),
    )
    for lecture in upcoming:
        reminder_ensure_defaults(lecture=lecture)
    for reminder_id in reminder_claim_due(now=now):
        notice_plan_task.delay(reminder_id)
    due = set(
        Delivery.objects.filter(status=Delivery.Status.QUEUED, next_attempt_at__lte=now)
        .values_list("channel", flat=True)
        .distinct()
    )
    if due:
        dispatch_kick(channels=sorted(due))


@shared_task(name="notifications.plan", ignore_result=True, acks_late=True)
def notice_plan_task(reminder_id: int) -> None:
    from notifications.services import reminder_plan

    reminder_plan(reminder_id=reminder_id)
    dispatch_kick()


@shared_task(name="notifications.dispatch", ignore_result=True, acks_late=True)
def notice_dispatch_task(channel: str) -> None:
    from notifications.services import delivery_dispatch

    delivery_dispatch(channel=channel)


@shared_task(name="notifications.sweep", ignore_result=True)
def notice_sweep_task() -> None:
    from notifications.services import delivery_sweep

    delivery_sweep()


@shared_task(name="notifications.poll_receipts", ignore_result=True)
def notice_poll_receipts_task() -> None:
    """Every NOTIFY_RECEIPT_POLL_SECONDS: delivery reports of providers without push
    (Tencent PullSmsSendStatus, DingTalk getsendresult) → delivered / failed."""
    from notifications.services import receipt_poll_all

    receipt_poll_all()


@shared_task(name="notifications.ranking_tick", ignore_result=True)
def ranking_tick_task() -> None:
    """Every minute: the 通报 of lectures that ended REPORT_RANKING_DELAY_MINUTES ago
    (a RankingDispatch + a ``ranking`` reminder each, once; ``notifications.tick`` sends)."""
    from notifications.services.bulletins import ranking_dispatch_due

    ranking_dispatch_due()
