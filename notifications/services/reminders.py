"""Reminders: the defaults of a lecture, organisers' reminders, claiming, resending."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from courses.models import Lecture
from notifications.exceptions import NotifyError, NotifyErrorCode
from notifications.models import (
    Channel,
    Delivery,
    NotifyPreference,
    ProgrammeOptOut,
    Reminder,
    ReminderKind,
)
from portal.models import User
from portal.services import audit_log_write

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
    audit_log_write(
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
        audit_log_write(
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
    audit_log_write(
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
