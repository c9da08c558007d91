"""The 学时 rule of a programme applied to its lectures and its cadres' attendance
(docs/learning.md). The rule itself (``StudyHourRule``: bands, cap, test bonus) says what a
completed lecture earns; ``Programme.replays_count`` whether replay minutes count towards
completing it. Applying a changed rule recomputes every attendance row of the programme from
its raw seconds and check-in, in SQL, and is audited; nobody edits credit by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction

from courses.models import Attendance, Lecture, Programme, StudyHourRule
from courses.summaries.sync import attendance_summaries_sync
from portal.models import User
from portal.services import audit_log_write


def credit_with_bonus(
    *, rule: StudyHourRule, lecture_hours: Decimal, completed: bool, test_passed: bool
) -> Decimal:
    """A cadre's 学时 of one lecture: the lecture's (when completed) plus the test bonus
    (when passed), within the rule's cap. ``annual.credit_expression`` is this in SQL."""
    hours = (lecture_hours if completed else Decimal("0")) + (
        rule.test_bonus_hours if test_passed else Decimal("0")
    )
    return rule.capped(hours)


@transaction.atomic
def attendance_test_passed(*, user_id: int, lecture_id: int, at: datetime) -> bool:
    """Record that the cadre passed the lecture's test (the first time counts); makes the
    attendance row when the cadre has none yet. True when this call recorded it."""
    row, _created = Attendance.objects.select_for_update().get_or_create(
        user_id=user_id, lecture_id=lecture_id
    )
    if row.test_passed_at is not None:
        return False
    row.test_passed_at = at
    row.save(update_fields=["test_passed_at", "updated_at"])
    # no summaries sync: a pass changes none of their counts, and a row made here (zero
    # seconds) contributed nothing; the next write that does counts from its tally
    return True


def study_hour_rule_for(*, programme: Programme) -> StudyHourRule:
    """The programme's rule; a programme without one keeps each lecture's own 学时
    (an unsaved default, never written by a read)."""
    rule = StudyHourRule.objects.filter(programme=programme).first()
    return rule if rule is not None else StudyHourRule(programme=programme)


@dataclass
class RuleApplied:
    lectures_changed: list[int] = field(default_factory=list)
    rows_changed: int = 0


def _recompute_sql() -> str:
    t = Attendance._meta.db_table
    done = (
        f"({t}.checked_in_at IS NOT NULL OR "
        f"{t}.live_seconds + CASE WHEN %s THEN {t}.replay_seconds ELSE 0 END >= %s)"
    )
    return (
        f"UPDATE {t} SET completed = {done}, "  # noqa: S608 - constant identifiers only
        f"credit_hours_earned = CASE WHEN {done} THEN %s ELSE 0 END "
        f"WHERE {t}.lecture_id = %s AND ({t}.completed IS DISTINCT FROM {done} OR "
        f"{t}.credit_hours_earned IS DISTINCT FROM CASE WHEN {done} THEN %s ELSE 0 END) "
        f"RETURNING {t}.user_id"
    )


def lecture_credit_recompute(*, lecture: Lecture, replays_count: bool) -> list[int]:
    """Recompute completion and credit of a lecture's attendance rows from their raw
    seconds (the summaries follow); returns the users whose row changed."""
    done = [replays_count, lecture.completion_seconds]
    hours = Decimal(lecture.credit_hours)
    with connection.cursor() as cursor:
        cursor.execute(_recompute_sql(), [*done, *done, hours, lecture.pk, *done, *done, hours])
        users = [int(row[0]) for row in cursor.fetchall()]
    if users:
        attendance_summaries_sync(lecture_id=lecture.pk, user_ids=users)
    return users


@transaction.atomic
def study_hour_rule_apply(*, programme: Programme, by: User | None) -> RuleApplied:
    """Bring the programme's lectures and attendance rows in line with its rule (after the
    organiser changed the rule, the replay setting or a lecture). Idempotent: a second run
    changes nothing. Audited when anything changed."""
    rule = study_hour_rule_for(programme=programme)
    result = RuleApplied()
    for lecture in Lecture.objects.select_for_update().filter(programme=programme).order_by("pk"):
        hours = rule.lecture_hours(
            duration_minutes=int(lecture.duration_minutes), own_hours=lecture.credit_hours
        )
        if hours != lecture.credit_hours:
            lecture.credit_hours = hours
            lecture.save(update_fields=["credit_hours"])
            result.lectures_changed.append(lecture.pk)
        result.rows_changed += len(
            lecture_credit_recompute(lecture=lecture, replays_count=programme.replays_count)
        )
    if result.lectures_changed or result.rows_changed:
        audit_log_write(
            user=by,
            action="studyhours.rule_apply",
            target=programme,
            detail={
                "basis": rule.basis,
                "bands": rule.bands,
                "cap": str(rule.cap_hours) if rule.cap_hours is not None else None,
                "test_bonus": str(rule.test_bonus_hours),
                "replays_count": programme.replays_count,
                "lectures_changed": result.lectures_changed,
                "rows_changed": result.rows_changed,
            },
        )
    return result
