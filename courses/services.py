"""Write use cases of the courses app."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.attendance.credit import attendance_flush as attendance_flush
from courses.attendance.credit import attendance_heartbeat as attendance_heartbeat
from courses.attendance.credit import attendance_override_create as attendance_override_create
from courses.exceptions import EnrolmentError, EnrolmentErrorCode, ScheduleError
from courses.models import Enrolment, Lecture, Programme, Venue
from courses.selectors import user_in_audience
from courses.summaries.sync import enrolment_summaries_sync
from portal.models import User
from portal.services import audit_log_write


def _programme_lock(*, programme_id: int) -> Programme:
    return Programme.objects.select_for_update().get(pk=programme_id)


@dataclass(frozen=True)
class EnrolResult:
    enrolment: Enrolment
    created: bool


def enrolment_create(*, user: User, programme: Programme) -> EnrolResult:
    """Self-enrol ``user``. Idempotent: a repeat returns the existing active enrolment."""
    if not programme.is_published:
        raise EnrolmentError(EnrolmentErrorCode.NOT_PUBLISHED)
    if programme.enrolment_mode == Programme.EnrolmentMode.ASSIGNED:
        existing = Enrolment.objects.filter(
            user=user, programme=programme, status=Enrolment.Status.ACTIVE
        ).first()
        if existing is not None:
            return EnrolResult(existing, created=False)
        raise EnrolmentError(EnrolmentErrorCode.ASSIGNED_ONLY)
    if user.unit_id is None:
        raise EnrolmentError(EnrolmentErrorCode.NO_UNIT)
    if not user_in_audience(user=user, programme=programme):
        raise EnrolmentError(EnrolmentErrorCode.NOT_IN_AUDIENCE)
    with transaction.atomic():
        try:
            with transaction.atomic():
                enrolment, created = Enrolment.objects.get_or_create(user=user, programme=programme)
        except IntegrityError:  # a concurrent double click won the race
            enrolment, created = Enrolment.objects.get(user=user, programme=programme), False
        if not created and enrolment.status != Enrolment.Status.ACTIVE:
            enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
            if enrolment.status != Enrolment.Status.ACTIVE:
                enrolment.status = Enrolment.Status.ACTIVE
                enrolment.source = Enrolment.Source.SELF
                enrolment.enrolled_at = timezone.now()
                enrolment.withdrawn_at = None
                enrolment.save(update_fields=["status", "source", "enrolled_at", "withdrawn_at"])
                created = True
        if created:
            enrolment_summaries_sync(programme_id=programme.pk, user_ids=[user.pk])
    return EnrolResult(enrolment, created=created)


@transaction.atomic
def enrolment_withdraw(*, user: User, programme: Programme) -> Enrolment:
    enrolment = (
        Enrolment.objects.select_for_update()
        .filter(user=user, programme=programme, status=Enrolment.Status.ACTIVE)
        .first()
    )
    if enrolment is None:
        raise EnrolmentError(EnrolmentErrorCode.NOT_ENROLLED)
    enrolment.status = Enrolment.Status.WITHDRAWN
    enrolment.withdrawn_at = timezone.now()
    enrolment.save(update_fields=["status", "withdrawn_at"])
    enrolment_summaries_sync(programme_id=programme.pk, user_ids=[user.pk])
    return enrolment


@transaction.atomic
def enrolment_assign_bulk(
    *,
    programme: Programme,
    users: Iterable[User],
    venue: Venue | None,
    assigned_by: User | None,
) -> int:
    """Assign a cohort (e.g. a party-school class) to a programme, optionally at a venue.

    Idempotent: users already enrolled get the venue updated; withdrawn ones are re-enrolled.
    Returns the number of users now actively enrolled through this call.
    """
    if (
        venue is not None
        and not Venue.objects.filter(pk=venue.pk, lectures__programme=programme).exists()
    ):
        raise EnrolmentError(EnrolmentErrorCode.VENUE_OUTSIDE)
    _programme_lock(programme_id=programme.pk)
    user_ids = sorted({u.pk for u in users})
    now = timezone.now()
    existing = {
        e.user_id: e
        for e in Enrolment.objects.select_for_update().filter(
            programme=programme, user_id__in=user_ids
        )
    }
    new_rows = [
        Enrolment(
            user_id=uid,
            programme=programme,
            venue=venue,
            source=Enrolment.Source.ASSIGNED,
            enrolled_at=now,
        )
        for uid in user_ids
        if uid not in existing
    ]
    Enrolment.objects.bulk_create(new_rows, batch_size=2000)
    to_update = []
    for enrolment in existing.values():
        enrolment.venue = venue
        if enrolment.status != Enrolment.Status.ACTIVE:
            enrolment.status = Enrolment.Status.ACTIVE
            enrolment.source = Enrolment.Source.ASSIGNED
            enrolment.enrolled_at = now
            enrolment.withdrawn_at = None
        to_update.append(enrolment)
    Enrolment.objects.bulk_update(
        to_update, ["venue", "status", "source", "enrolled_at", "withdrawn_at"], batch_size=2000
    )
    enrolment_summaries_sync(programme_id=programme.pk, user_ids=user_ids)
    audit_log_write(
        user=assigned_by,
        action="enrolment.assign_bulk",
        target=f"programme:{programme.pk}",
        detail={"users": len(user_ids), "venue": venue.pk if venue else None},
    )
    return len(user_ids)


@dataclass(frozen=True)
class WeeklySeries:
    first_starts_at: datetime
    count: int
    duration_minutes: int
    title_template: str = ""
    category: str = Lecture.Category.GENERAL
    credit_hours: Decimal = Decimal("2.0")
    stream_url: str = ""


def lecture_schedule_weekly_series(
    *, programme: Programme, series: WeeklySeries, scheduled_by: User | None
) -> list[Lecture]:
    """Create ``count`` lectures every 7 days from ``first_starts_at``; all or nothing."""
    if not 1 <= series.count <= 52:
        raise ScheduleError(_("A series has between 1 and 52 lectures."))
    if not 1 <= series.duration_minutes <= 24 * 60:
        raise ScheduleError(_("The duration must be between 1 and 1440 minutes."))
    if timezone.is_naive(series.first_starts_at):
        raise ScheduleError(_("The start time needs a time zone."))
    template = series.title_template or _("Lecture {n}")
    with transaction.atomic():
        _programme_lock(programme_id=programme.pk)
        last = Lecture.objects.filter(programme=programme).aggregate(m=Max("sequence"))["m"]
        first_seq = (last or 0) + 1
        created: list[Lecture] = []
        for i in range(series.count):
            seq = first_seq + i
            try:
                title = template.format(n=seq)
            except (KeyError, IndexError, ValueError) as exc:
                raise ScheduleError(
                    _("The title template may only use {n} for the lecture number.")
                ) from exc
            lecture = Lecture(
                programme=programme,
                sequence=seq,
                title=title[:200],
                category=series.category,
                starts_at=series.first_starts_at + timedelta(days=7 * i),
                duration_minutes=series.duration_minutes,
                credit_hours=series.credit_hours,
                stream_url=series.stream_url,
            )
            try:
                lecture.full_clean()
            except ValidationError as exc:
                raise ScheduleError(
                    _("Lecture %(n)s: %(errors)s") % {"n": seq, "errors": "; ".join(exc.messages)}
                ) from exc
            lecture.save()
            created.append(lecture)
        audit_log_write(
            user=scheduled_by,
            action="lecture.schedule_weekly_series",
            target=f"programme:{programme.pk}",
            detail={"count": series.count, "first_sequence": first_seq},
        )
    return created
