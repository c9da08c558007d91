"""Write use cases of notifications: schedule, plan, claim, send, record, sweep.

The outbox rules (ARCHITECTURE.md §5):

* a ``Delivery`` row per (reminder, user, channel) exists before any provider call
  (unique key; planning is a bulk insert with ON CONFLICT DO NOTHING);
* a row is claimed by a conditional UPDATE (queued → sending, ``FOR UPDATE SKIP LOCKED``)
  and its outcome written back only while it is still ``sending`` in that same batch;
* transient errors are retried with backoff, jitter and a cap; throttling re-queues without
  spending an attempt; permanent errors move on to the user's next channel; fatal errors
  pause the channel; timeouts on APIs without idempotency become ``unknown`` and are
  reconciled, never resent blindly;
* a sweeper finishes what crashed workers left in ``sending``.
"""

from __future__ import annotations

import io
import logging
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from courses.models import Lecture
from notifications import selectors
from notifications.exceptions import NotifyError, NotifyErrorCode
from notifications.models import (
    PUSH_CHANNELS,
    Announcement,
    Channel,
    ChannelState,
    Delivery,
    InboxMessage,
    MessageTemplate,
    NotifyPreference,
    ProgrammeOptOut,
    Reminder,
    ReminderKind,
)
from notifications.providers import channel_rate, provider_for
from notifications.providers.base import ErrorKind, OutMessage, Provider, ProviderError, Receipt
from notifications.redis_state import quota_take
from notifications.rendering import default_source, format_time, render_text
from portal.models import AuditLog, User

logger = logging.getLogger(__name__)

DEFAULT_OFFSETS = {
    ReminderKind.REMINDER_24H: timedelta(hours=24),
    ReminderKind.REMINDER_1H: timedelta(hours=1),
}
# A default reminder whose time passed more than this ago is not sent late ("tomorrow"
# would be wrong); rows stuck in planning this long are planned again.
LATE_GRACE = timedelta(minutes=5)
PLANNING_STALE = timedelta(minutes=10)
OPEN = (Delivery.Status.QUEUED, Delivery.Status.SENDING)
# ``unknown`` rows the provider's query could not find by the receipt deadline (Tencent).
UNRECONCILED = "unreconciled"


# ---------------------------------------------------------------------------
# Reminders
# ---------------------------------------------------------------------------
def reminder_ensure_defaults(*, lecture: Lecture) -> list[Reminder]:
    """Create (or move, after a reschedule) the 24 h and 1 h reminders of a lecture.

    Idempotent. A reminder whose time has already passed is not created (a lecture
    scheduled 3 hours ahead gets only the 1 h reminder).
    """
    now = timezone.now()
    result: list[Reminder] = []
    if lecture.starts_at <= now:
        return result
    for kind, offset in DEFAULT_OFFSETS.items():
        due_at = lecture.starts_at - offset
        with transaction.atomic():
            existing = (
                Reminder.objects.select_for_update().filter(lecture=lecture, kind=kind).first()
            )
            if existing is None:
                if due_at < now - LATE_GRACE:
                    continue
                reminder, _created = Reminder.objects.get_or_create(
                    lecture=lecture, kind=kind, defaults={"due_at": due_at}
                )
                result.append(reminder)
                continue
            if existing.status == Reminder.Status.SCHEDULED and existing.due_at != due_at:
                if due_at < now - LATE_GRACE:
                    existing.status = Reminder.Status.CANCELLED
                    existing.save(update_fields=["status"])
                    continue
                existing.due_at = due_at
                existing.save(update_fields=["due_at"])
            result.append(existing)
    return result


def reminder_create(
    *,
    lecture: Lecture,
    kind: str,
    due_at: datetime,
    created_by: User | None,
    note: str = "",
) -> Reminder:
    """An organiser's reminder; the time must not be in the past."""
    now = timezone.now()
    if due_at < now - timedelta(minutes=1):
        raise NotifyError(NotifyErrorCode.IN_PAST)
    if kind != ReminderKind.INVITATION and lecture.starts_at <= now:
        raise NotifyError(NotifyErrorCode.LECTURE_STARTED)
    if kind in DEFAULT_OFFSETS and Reminder.objects.filter(lecture=lecture, kind=kind).exists():
        raise NotifyError(NotifyErrorCode.DUPLICATE)
    reminder = Reminder.objects.create(
        lecture=lecture, kind=kind, due_at=due_at, created_by=created_by, note=note[:200]
    )
    AuditLog.objects.create(
        user=created_by,
        action="reminder.create",
        target=f"reminder:{reminder.pk}",
        detail={"lecture": lecture.pk, "kind": kind},
    )
    return reminder


def reminder_cancel(*, reminder_id: int, by: User | None) -> int:
    """Stop a reminder: nothing more is sent; rows in flight finish. Returns rows cancelled."""
    now = timezone.now()
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().get(pk=reminder_id)
        if reminder.status in (Reminder.Status.DONE, Reminder.Status.CANCELLED):
            if reminder.status == Reminder.Status.CANCELLED:
                return 0
            if not Delivery.objects.filter(reminder_id=reminder_id, status__in=OPEN).exists():
                raise NotifyError(NotifyErrorCode.NOT_CANCELLABLE)
        reminder.status = Reminder.Status.CANCELLED
        reminder.finished_at = now
        reminder.save(update_fields=["status", "finished_at"])
        count = Delivery.objects.filter(
            reminder_id=reminder_id, status=Delivery.Status.QUEUED
        ).update(status=Delivery.Status.CANCELLED, updated_at=now)
        AuditLog.objects.create(
            user=by,
            action="reminder.cancel",
            target=f"reminder:{reminder_id}",
            detail={"cancelled": count},
        )
    return count


def reminder_send_now(*, reminder_id: int) -> None:
    """Make a scheduled reminder due now (the command's ``--now``)."""
    Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.SCHEDULED).update(
        due_at=timezone.now()
    )


def reminder_claim_due(*, now: datetime | None = None, limit: int = 20) -> list[int]:
    """Claim due reminders (scheduled → planning), plus plans abandoned by a dead worker."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=Reminder.Status.SCHEDULED, due_at__lte=now)
                | Q(status=Reminder.Status.PLANNING, planning_started_at__lt=now - PLANNING_STALE)
            )
            .order_by("due_at")
            .values_list("id", flat=True)[:limit]
        )
        Reminder.objects.filter(id__in=ids).update(
            status=Reminder.Status.PLANNING, planning_started_at=now
        )
    return ids


def _channel_order(raw: str) -> list[str]:
    enabled = set(settings.NOTIFY_CHANNELS)
    order = [c.strip() for c in raw.split(",") if c.strip()] if raw else []
    order = order or list(settings.NOTIFY_DEFAULT_CHANNEL_ORDER)
    seen: list[str] = []
    for channel in order:
        if channel in PUSH_CHANNELS and channel in enabled and channel not in seen:
            seen.append(channel)
    return seen


def _next_channel(
    *, order: list[str], addresses: dict[str, str], after: str | None, exclude: set[str]
) -> tuple[str, str] | None:
    start = order.index(after) + 1 if after in order else 0
    for channel in order[start:]:
        if channel in exclude:
            continue
        address = addresses.get(channel)
        if address:
            return channel, address
    return None


@dataclass
class PlanResult:
    reminder_id: int
    recipients: int
    rows: int
    seconds: float


_COPY_COLUMNS = (
    "reminder_id",
    "user_id",
    "channel",
    "address",
    "hop",
    "status",
    "attempts",
    "next_attempt_at",
    "batch_id",
    "provider_message_id",
    "error_code",
    "error_detail",
    "fallback_done",
    "created_at",
    "updated_at",
)


def _insert_rows(rows: list[tuple[int, int, str, str, int]], *, now: datetime) -> int:
    """Bulk insert (reminder, user, channel, address, hop) outbox rows, skipping existing."""
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        stamp = now.isoformat()
        buf = io.StringIO()
        for reminder_id, user_id, channel, address, hop in rows:
            buf.write(
                f"{reminder_id}\t{user_id}\t{channel}\t{address}\t{hop}\tqueued\t0\t{stamp}"
                f"\t\t\t\t\tf\t{stamp}\t{stamp}\n"
            )
        buf.seek(0)
        cols = ", ".join(_COPY_COLUMNS)
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS zx_plan")
            cur.execute(
                f"CREATE TEMP TABLE zx_plan AS SELECT {cols} FROM notifications_delivery "  # noqa: S608
                "WITH NO DATA"
            )
            cur.copy_expert(f"COPY zx_plan ({cols}) FROM STDIN", buf)
            cur.execute(
                f"INSERT INTO notifications_delivery ({cols}) SELECT {cols} FROM zx_plan "  # noqa: S608
                "ON CONFLICT (reminder_id, user_id, channel) DO NOTHING"
            )
            inserted: int = cur.rowcount
            cur.execute("DROP TABLE zx_plan")
        return inserted
    objs = [
        Delivery(
            reminder_id=r,
            user_id=u,
            channel=c,
            address=a,
            hop=h,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for r, u, c, a, h in rows
    ]
    reminder_ids = {r[0] for r in rows}
    before = Delivery.objects.filter(reminder_id__in=reminder_ids).count()
    Delivery.objects.bulk_create(objs, batch_size=2000, ignore_conflicts=True)
    return Delivery.objects.filter(reminder_id__in=reminder_ids).count() - before


def reminder_plan(*, reminder_id: int) -> PlanResult:
    """Write the outbox rows of a claimed reminder: the inbox for everyone in the audience,
    plus the first reachable push channel of each user who has not opted out.

    Idempotent (re-planning after a crash inserts only what is missing)."""
    started = time.monotonic()
    now = timezone.now()
    reminder = Reminder.objects.select_related("lecture", "lecture__programme").get(pk=reminder_id)
    if reminder.status not in (Reminder.Status.PLANNING, Reminder.Status.SCHEDULED):
        return PlanResult(reminder_id, reminder.recipients, 0, 0.0)
    if reminder.kind in DEFAULT_OFFSETS and reminder.lecture.starts_at <= now:
        Reminder.objects.filter(pk=reminder_id).update(
            status=Reminder.Status.CANCELLED, finished_at=now
        )
        return PlanResult(reminder_id, 0, 0, 0.0)
    recipients = selectors.recipient_rows(reminder=reminder)
    rows: list[tuple[int, int, str, str, int]] = []
    for recipient in recipients:
        rows.append((reminder_id, recipient.user_id, Channel.INBOX, "", 0))
        if recipient.opted_out:
            continue
        first = _next_channel(
            order=_channel_order(recipient.channel_order),
            addresses=recipient.addresses,
            after=None,
            exclude=set(),
        )
        if first is not None:
            rows.append((reminder_id, recipient.user_id, first[0], first[1], 0))
    with transaction.atomic():
        inserted = _insert_rows(rows, now=now)
        Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.PLANNING).update(
            status=Reminder.Status.DISPATCHING, planned_at=now, recipients=len(recipients)
        )
        Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.SCHEDULED).update(
            status=Reminder.Status.DISPATCHING, planned_at=now, recipients=len(recipients)
        )
    seconds = time.monotonic() - started
    logger.info(
        "planned reminder %s: %s recipients, %s rows in %.1fs",
        reminder_id,
        len(recipients),
        inserted,
        seconds,
    )
    return PlanResult(reminder_id, len(recipients), inserted, seconds)


def reminder_resend_failed(*, reminder_id: int, by: User | None) -> int:
    """Put failed rows of a reminder back in the queue (organiser action); push rows of
    users who have opted out since (globally or of this programme) stay failed."""
    now = timezone.now()
    programme_id = (
        Reminder.objects.filter(pk=reminder_id)
        .values_list("lecture__programme_id", flat=True)
        .first()
    )
    opted_out = Exists(
        NotifyPreference.objects.filter(user_id=OuterRef("user_id"), opted_out=True)
    ) | Exists(
        ProgrammeOptOut.objects.filter(user_id=OuterRef("user_id"), programme_id=programme_id or 0)
    )
    failed = Delivery.objects.filter(reminder_id=reminder_id, status=Delivery.Status.FAILED)
    count = failed.exclude(opted_out, ~Q(channel=Channel.INBOX)).update(
        status=Delivery.Status.QUEUED,
        attempts=0,
        batch_id="",
        next_attempt_at=now,
        error_code="",
        error_detail="",
        fallback_done=False,
        updated_at=now,
    )
    if count:
        Reminder.objects.filter(pk=reminder_id, status=Reminder.Status.DONE).update(
            status=Reminder.Status.DISPATCHING, finished_at=None
        )
    AuditLog.objects.create(
        user=by,
        action="reminder.resend_failed",
        target=f"reminder:{reminder_id}",
        detail={"requeued": count},
    )
    return count


def reminder_finish_done(*, now: datetime | None = None) -> int:
    """Reminders with nothing left queued or in flight are done."""
    now = now or timezone.now()
    open_rows = Delivery.objects.filter(reminder_id=OuterRef("pk"), status__in=OPEN)
    return (
        Reminder.objects.filter(status=Reminder.Status.DISPATCHING)
        .exclude(Exists(open_rows))
        .update(status=Reminder.Status.DONE, finished_at=now)
    )


# ---------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------
def channel_pause(*, channel: str, reason: str) -> None:
    ChannelState.objects.update_or_create(
        channel=channel,
        defaults={"paused": True, "reason": reason[:200], "paused_at": timezone.now()},
    )
    AuditLog.objects.create(
        user=None,
        action="notify.channel_paused",
        target=f"channel:{channel}",
        detail={"reason": reason[:200]},
    )
    logger.error("channel %s paused: %s", channel, reason)


def channel_resume(*, channel: str, by: User | None) -> None:
    ChannelState.objects.filter(channel=channel).update(paused=False, reason="")
    AuditLog.objects.create(user=by, action="notify.channel_resumed", target=f"channel:{channel}")


def _is_paused(channel: str) -> bool:
    return ChannelState.objects.filter(channel=channel, paused=True).exists()


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------
def message_context(*, reminder: Reminder) -> dict[str, str]:
    lecture = reminder.lecture
    speakers = "、".join(s.name for s in lecture.speakers.all())
    context = {
        "title": lecture.title,
        "time": format_time(lecture.starts_at),
        "speaker": speakers,
        "link": f"{settings.SITE_URL.rstrip('/')}/lectures/{lecture.pk}/",
        "programme": lecture.programme.title,
        "note": reminder.note,
    }
    if reminder.kind == ReminderKind.RANKING:  # 通报: the bulletin and the ranking page
        from notifications.ranking import ranking_message_context

        context.update(ranking_message_context(reminder=reminder))
    return context


def message_source(*, channel: str, kind: str) -> tuple[str, str]:
    template_channel = channel if channel != Channel.INBOX else Channel.INBOX
    row = MessageTemplate.objects.filter(channel=template_channel, kind=kind).first()
    if row is not None:
        return row.subject, row.body
    return default_source(channel=channel, kind=kind)


@dataclass(frozen=True)
class MessageText:
    subject: str
    body: str
    link: str
    params: dict[str, str]


def message_render(*, reminder: Reminder, channel: str) -> MessageText:
    context = message_context(reminder=reminder)
    subject_src, body_src = message_source(channel=channel, kind=reminder.kind)
    subject = render_text(subject_src, context, channel="push") if subject_src else ""
    body = render_text(body_src, context, channel=channel)
    return MessageText(
        subject=subject or context["title"], body=body, link=context["link"], params=context
    )


# ---------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------
@dataclass
class DispatchStats:
    channel: str
    batches: int = 0
    rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    reminder_id: int
    user_id: int
    address: str
    hop: int
    attempts: int


def _claim(
    *, channel: str, limit: int, now: datetime, resume: bool = False
) -> tuple[str, list[ClaimedRow]]:
    """Claim due rows (queued → sending) under a new batch id.

    With ``resume`` (providers with an idempotency key) a batch that was re-queued after a
    transient error is claimed whole under its old id first, so the provider sees the same
    key again and carries the request out once."""
    with transaction.atomic():
        due = Delivery.objects.select_for_update(skip_locked=True).filter(
            channel=channel, status=Delivery.Status.QUEUED, next_attempt_at__lte=now
        )
        if resume:
            old = (
                due.exclude(batch_id="")
                .order_by("next_attempt_at")
                .values_list("batch_id", flat=True)
                .first()
            )
            if old:
                ids = list(
                    due.filter(batch_id=old).values_list("id", flat=True)[: max(limit, 1000)]
                )
                Delivery.objects.filter(id__in=ids, status=Delivery.Status.QUEUED).update(
                    status=Delivery.Status.SENDING,
                    claimed_at=now,
                    attempts=F("attempts") + 1,
                    updated_at=now,
                )
                return old, _rows_of_batch(old)
            due = due.filter(batch_id="")
        batch_id = uuid.uuid4().hex
        ids = list(due.order_by("next_attempt_at").values_list("id", flat=True)[:limit])
        if not ids:
            return batch_id, []
        Delivery.objects.filter(id__in=ids, status=Delivery.Status.QUEUED).update(
            status=Delivery.Status.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            batch_id=batch_id,
            updated_at=now,
        )
    return batch_id, _rows_of_batch(batch_id)


def _rows_of_batch(batch_id: str) -> list[ClaimedRow]:
    return [
        ClaimedRow(*values)
        for values in Delivery.objects.filter(batch_id=batch_id, status=Delivery.Status.SENDING)
        .order_by("id")
        .values_list("id", "reminder_id", "user_id", "address", "hop", "attempts")
    ]


def _backoff(attempts: int) -> float:
    """Exponential backoff with full jitter, capped."""
    ceiling = min(
        settings.NOTIFY_BACKOFF_CAP, settings.NOTIFY_BACKOFF_BASE * 2 ** max(0, attempts - 1)
    )
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311


def _rows_update(batch_id: str, ids: Sequence[int], **fields: Any) -> int:
    if not ids:
        return 0
    return Delivery.objects.filter(
        id__in=ids, batch_id=batch_id, status=Delivery.Status.SENDING
    ).update(updated_at=timezone.now(), **fields)


def _record_error(
    *,
    channel: str,
    batch_id: str,
    rows: Sequence[ClaimedRow],
    error: ProviderError,
    provider: Provider,
) -> tuple[str, list[int]]:
    """Write a failed outcome; returns (outcome, ids that need a fallback)."""
    now = timezone.now()
    ids = [r.id for r in rows]
    detail = {"error_code": error.code[:60], "error_detail": error.detail[:300]}
    if error.kind == ErrorKind.THROTTLED:
        wait = error.retry_after if error.retry_after is not None else random.uniform(1, 3)  # noqa: S311
        _rows_update(
            batch_id,
            ids,
            status=Delivery.Status.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=now + timedelta(seconds=wait),
            **detail,
        )
        return "throttled", []
    if error.kind == ErrorKind.FATAL:
        channel_pause(channel=channel, reason=f"{error.code} {error.detail}")
        _rows_update(
            batch_id,
            ids,
            status=Delivery.Status.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=now,
            **detail,
        )
        return "paused", []
    if error.kind == ErrorKind.UNKNOWN:
        _rows_update(
            batch_id,
            ids,
            status=Delivery.Status.UNKNOWN,
            fallback_after=now + timedelta(seconds=settings.NOTIFY_RECEIPT_DEADLINE),
            **detail,
        )
        return "unknown", []
    if error.kind == ErrorKind.PERMANENT:
        _rows_update(batch_id, ids, status=Delivery.Status.FAILED, **detail)
        return "failed", ids
    # retryable
    exhausted = [r.id for r in rows if r.attempts >= settings.NOTIFY_MAX_ATTEMPTS]
    retry = [r for r in rows if r.attempts < settings.NOTIFY_MAX_ATTEMPTS]
    _rows_update(batch_id, exhausted, status=Delivery.Status.FAILED, **detail)
    by_attempts: dict[int, list[int]] = defaultdict(list)
    for r in retry:
        by_attempts[r.attempts].append(r.id)
    for attempts, attempt_ids in by_attempts.items():
        _rows_update(
            batch_id,
            attempt_ids,
            status=Delivery.Status.QUEUED,
            next_attempt_at=now + timedelta(seconds=_backoff(attempts)),
            **detail,
        )
    return ("failed" if exhausted and not retry else "retry"), exhausted


def _reached_users(rows: Sequence[ClaimedRow], channel: str) -> set[tuple[int, int]]:
    """(reminder, user) pairs already reached on another push channel (for fallbacks)."""
    fallback_rows = [r for r in rows if r.hop > 0]
    if not fallback_rows:
        return set()
    reminder_ids = {r.reminder_id for r in fallback_rows}
    user_ids = {r.user_id for r in fallback_rows}
    reached = (
        Delivery.objects.filter(reminder_id__in=reminder_ids, user_id__in=user_ids)
        .exclude(channel__in=[channel, Channel.INBOX])
        .filter(
            Q(status=Delivery.Status.DELIVERED)
            | Q(status=Delivery.Status.ACCEPTED, fallback_after__isnull=True)
        )
        .values_list("reminder_id", "user_id")
    )
    return set(reached)


def delivery_send_rows(
    *, provider: Provider, channel: str, batch_id: str, rows: Sequence[ClaimedRow]
) -> Counter[str]:
    """Send claimed rows through ``provider`` and record every outcome."""
    outcomes: Counter[str] = Counter()
    reached = _reached_users(rows, channel)
    if reached:
        skip = [r.id for r in rows if (r.reminder_id, r.user_id) in reached]
        _rows_update(batch_id, skip, status=Delivery.Status.SKIPPED, error_code="reached")
        outcomes["skipped"] += len(skip)
        rows = [r for r in rows if (r.reminder_id, r.user_id) not in reached]
    cancelled = set(
        Reminder.objects.filter(
            id__in={r.reminder_id for r in rows}, status=Reminder.Status.CANCELLED
        ).values_list("id", flat=True)
    )
    if cancelled:
        ids = [r.id for r in rows if r.reminder_id in cancelled]
        _rows_update(batch_id, ids, status=Delivery.Status.CANCELLED)
        outcomes["cancelled"] += len(ids)
        rows = [r for r in rows if r.reminder_id not in cancelled]
    if not rows:
        return outcomes
    texts: dict[int, MessageText] = {}
    for reminder in (
        Reminder.objects.filter(id__in={r.reminder_id for r in rows})
        .select_related("lecture", "lecture__programme")
        .prefetch_related("lecture__speakers")
    ):
        texts[reminder.pk] = message_render(reminder=reminder, channel=channel)
    kinds = dict(Reminder.objects.filter(id__in=texts).values_list("id", "kind"))
    messages = [
        OutMessage(
            delivery_id=r.id,
            reminder_id=r.reminder_id,
            user_id=r.user_id,
            address=r.address,
            subject=texts[r.reminder_id].subject,
            body=texts[r.reminder_id].body,
            link=texts[r.reminder_id].link,
            kind=kinds[r.reminder_id],
            params=texts[r.reminder_id].params,
        )
        for r in rows
    ]
    by_id = {r.id: r for r in rows}
    fallback_ids: list[int] = []
    try:
        results = provider.send_batch(messages, idempotency_key=batch_id)
    except ProviderError as error:
        outcome, fallback_ids = _record_error(
            channel=channel, batch_id=batch_id, rows=rows, error=error, provider=provider
        )
        outcomes[outcome] += len(rows)
        delivery_fallback(delivery_ids=fallback_ids)
        return outcomes
    except Exception as exc:  # a bug or an unexpected transport failure
        logger.exception("provider %s crashed on batch %s", provider.name, batch_id)
        kind = ErrorKind.RETRYABLE if provider.idempotent else ErrorKind.UNKNOWN
        outcome, fallback_ids = _record_error(
            channel=channel,
            batch_id=batch_id,
            rows=rows,
            error=ProviderError(kind, "crash", type(exc).__name__),
            provider=provider,
        )
        outcomes[outcome] += len(rows)
        return outcomes
    now = timezone.now()
    accepted: dict[bool, dict[str, list[int]]] = {True: defaultdict(list), False: defaultdict(list)}
    errors: dict[tuple[str, str, str], list[ClaimedRow]] = defaultdict(list)
    for result in results:
        if result.ok:
            accepted[result.delivered][result.provider_message_id].append(result.delivery_id)
        elif result.error is not None:
            e = result.error
            errors[(e.kind.value, e.code, e.detail)].append(by_id[result.delivery_id])
    for delivered, groups in accepted.items():
        status = Delivery.Status.DELIVERED if delivered else Delivery.Status.ACCEPTED
        deadline = (
            now + timedelta(seconds=settings.NOTIFY_RECEIPT_DEADLINE)
            if provider.has_receipts and not delivered
            else None
        )
        if len(groups) == 1:
            ((pmid, ids),) = groups.items()
            _rows_update(
                batch_id,
                ids,
                status=status,
                provider_message_id=pmid[:100],
                fallback_after=deadline,
                error_code="",
                error_detail="",
            )
            outcomes[status] += len(ids)
        elif groups:
            ids = [i for group in groups.values() for i in group]
            _rows_update(
                batch_id,
                ids,
                status=status,
                fallback_after=deadline,
                error_code="",
                error_detail="",
                provider_message_id=Case(
                    *[When(id=i, then=Value(pmid[:100])) for pmid, g in groups.items() for i in g],
                    default=F("provider_message_id"),
                ),
            )
            outcomes[status] += len(ids)
    for (kind_name, code, detail), error_rows in errors.items():
        outcome, more = _record_error(
            channel=channel,
            batch_id=batch_id,
            rows=error_rows,
            error=ProviderError(kind_name, code, detail),
            provider=provider,
        )
        outcomes[outcome] += len(error_rows)
        fallback_ids.extend(more)
    missing = set(by_id) - {r.delivery_id for r in results}
    if missing:  # a provider that lost track of some messages: find out later
        _rows_update(
            batch_id,
            sorted(missing),
            status=Delivery.Status.UNKNOWN,
            error_code="no_result",
            fallback_after=now + timedelta(seconds=settings.NOTIFY_RECEIPT_DEADLINE),
        )
        outcomes["unknown"] += len(missing)
    delivery_fallback(delivery_ids=fallback_ids)
    return outcomes


def _seconds_to_next_due(channel: str) -> float | None:
    nxt = (
        Delivery.objects.filter(channel=channel, status=Delivery.Status.QUEUED)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if nxt is None:
        return None
    return max(0.0, (nxt - timezone.now()).total_seconds())


def delivery_dispatch(
    *, channel: str, time_budget: float | None = None, max_batches: int | None = None
) -> DispatchStats:
    """Claim and send batches of ``channel`` until nothing is due or the budget is spent."""
    stats = DispatchStats(channel=channel)
    budget = settings.NOTIFY_DISPATCH_SECONDS if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    provider = provider_for(channel)
    rate = channel_rate(channel)
    try:
        while time.monotonic() < deadline and (max_batches is None or stats.batches < max_batches):
            if _is_paused(channel):
                break
            granted, wait = quota_take(key=provider.rate_key(), rate=rate)
            if not granted:
                time.sleep(min(wait, 1.0, max(0.0, deadline - time.monotonic())))
                continue
            batch_id, rows = _claim(
                channel=channel,
                limit=provider.batch_size,
                now=timezone.now(),
                resume=provider.idempotent,
            )
            if not rows:
                # A short backoff or throttle is waited out here rather than until the next
                # beat; anything due later is left to the beat's dispatch kick.
                wait_s = _seconds_to_next_due(channel)
                remaining = deadline - time.monotonic()
                if wait_s is None or wait_s > min(5.0, remaining):
                    break
                time.sleep(max(0.01, wait_s))
                continue
            stats.batches += 1
            stats.rows += len(rows)
            stats.outcomes.update(
                delivery_send_rows(provider=provider, channel=channel, batch_id=batch_id, rows=rows)
            )
    finally:
        provider.close()
    return stats


def delivery_fallback(*, delivery_ids: Iterable[int]) -> int:
    """For rows that failed (or got no receipt in time): queue the user's next channel."""
    ids = list(delivery_ids)
    if not ids:
        return 0
    rows = list(
        Delivery.objects.filter(id__in=ids, fallback_done=False)
        .exclude(channel=Channel.INBOX)
        .values_list("id", "reminder_id", "user_id", "channel", "hop")
    )
    if not rows:
        return 0
    user_ids = {u for _i, _r, u, _c, _h in rows}
    reminder_ids = {r for _i, r, _u, _c, _h in rows}
    profiles = selectors.recipient_profiles(user_ids=user_ids)
    tried: dict[tuple[int, int], set[str]] = defaultdict(set)
    for r, u, c in Delivery.objects.filter(
        reminder_id__in=reminder_ids, user_id__in=user_ids
    ).values_list("reminder_id", "user_id", "channel"):
        tried[(r, u)].add(c)
    cancelled = set(
        Reminder.objects.filter(id__in=reminder_ids, status=Reminder.Status.CANCELLED).values_list(
            "id", flat=True
        )
    )
    programme_opt_outs = selectors.programme_opt_outs_by_reminder(
        reminder_ids=reminder_ids, user_ids=user_ids
    )
    new_rows: list[tuple[int, int, str, str, int]] = []
    for _id, reminder_id, user_id, channel, hop in rows:
        profile = profiles.get(user_id)
        if profile is None or profile.opted_out or reminder_id in cancelled:
            continue
        if (reminder_id, user_id) in programme_opt_outs:
            continue
        nxt = _next_channel(
            order=_channel_order(profile.channel_order),
            addresses=profile.addresses,
            after=channel,
            exclude=tried[(reminder_id, user_id)],
        )
        if nxt is not None:
            new_rows.append((reminder_id, user_id, nxt[0], nxt[1], hop + 1))
            tried[(reminder_id, user_id)].add(nxt[0])
    with transaction.atomic():
        inserted = _insert_rows(new_rows, now=timezone.now()) if new_rows else 0
        Delivery.objects.filter(id__in=[r[0] for r in rows]).update(fallback_done=True)
    Reminder.objects.filter(id__in=reminder_ids, status=Reminder.Status.DONE).filter(
        Exists(Delivery.objects.filter(reminder_id=OuterRef("pk"), status__in=OPEN))
    ).update(status=Reminder.Status.DISPATCHING, finished_at=None)
    return inserted


# ---------------------------------------------------------------------------
# Receipts
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# Sweeper
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# Receipts by polling (beat ``notifications.poll_receipts``)
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# Test to me, inbox, announcements
# ---------------------------------------------------------------------------
def notice_send_test(*, reminder: Reminder, user: User, channel: str) -> str:
    """Send this reminder's text to ``user`` only (admin "send a test to me").

    No outbox row: a test never counts as the user's notice for the reminder."""
    if channel != Channel.INBOX and channel not in settings.NOTIFY_CHANNELS:
        raise NotifyError(NotifyErrorCode.CHANNEL_OFF)
    profile = selectors.recipient_profiles(user_ids={user.pk}).get(user.pk)
    address = (
        "" if channel == Channel.INBOX else (profile.addresses.get(channel, "") if profile else "")
    )
    if channel != Channel.INBOX and not address:
        raise NotifyError(NotifyErrorCode.NO_ADDRESS)
    text = message_render(reminder=reminder, channel=channel)
    if channel == Channel.INBOX:
        InboxMessage.objects.create(
            user=user, title=f"[测试] {text.subject}"[:200], body=text.body, link=text.link
        )
        return "inbox"
    provider = provider_for(channel)
    try:
        results = provider.send_batch(
            [
                OutMessage(
                    0,
                    reminder.pk,
                    user.pk,
                    address,
                    text.subject,
                    text.body,
                    text.link,
                    reminder.kind,
                    text.params,
                )
            ],
            idempotency_key=f"test-{uuid.uuid4().hex}",
        )
    finally:
        provider.close()
    result = results[0]
    if not result.ok and result.error is not None:
        raise result.error
    return result.provider_message_id


def inbox_mark_read(*, user: User, message_id: int) -> InboxMessage:
    message = InboxMessage.objects.get(pk=message_id, user=user)
    if message.read_at is None:
        message.read_at = timezone.now()
        InboxMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(
            read_at=message.read_at
        )
    return message


def inbox_mark_all_read(*, user: User) -> int:
    return InboxMessage.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def announcement_publish(*, announcement: Announcement, by: User | None) -> int:
    """Put an announcement in the inbox of everyone in its subtree (idempotent)."""
    now = timezone.now()
    link = f"/inbox/announcements/{announcement.pk}/"
    user_ids: QuerySet[User, int] = User.objects.filter(
        is_active=True, unit__path__startswith=announcement.unit.path
    ).values_list("id", flat=True)
    before = InboxMessage.objects.filter(announcement=announcement).count()
    batch: list[InboxMessage] = []
    for user_id in user_ids.iterator(chunk_size=5000):
        batch.append(
            InboxMessage(
                user_id=user_id,
                announcement=announcement,
                title=announcement.title,
                body=announcement.body[:500],
                link=link,
                created_at=now,
            )
        )
        if len(batch) >= 5000:
            InboxMessage.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        InboxMessage.objects.bulk_create(batch, ignore_conflicts=True)
    created = InboxMessage.objects.filter(announcement=announcement).count() - before
    Announcement.objects.filter(pk=announcement.pk, published_at__isnull=True).update(
        published_at=now, published_by=by
    )
    AuditLog.objects.create(
        user=by,
        action="announcement.publish",
        target=f"announcement:{announcement.pk}",
        detail={"unit": announcement.unit_id, "recipients": created},
    )
    return created


# ---------------------------------------------------------------------------
# A user's own notice preferences
# ---------------------------------------------------------------------------
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
    AuditLog.objects.create(
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
