"""``seed_demo --attendance [ended|all]``: realistic, deterministic, idempotent attendance."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import QuerySet
from django.utils import timezone

from courses.models import Attendance, Enrolment, Lecture, Programme
from courses.summaries.rebuild import summaries_compute, summaries_stored
from courses.summaries.sync import attendance_summaries_sync
from demo import programme as demo_programme
from demo.attendance import SCRIPTED, _insert_bulk, attendance_rows

NOW = datetime(2025, 6, 10, 4, 30, tzinfo=UTC)  # 12:30 in Hangzhou; lecture 6 is live

pytestmark = pytest.mark.django_db

FIELDS = (
    "user_id",
    "lecture_id",
    "live_seconds",
    "replay_seconds",
    "first_seen_at",
    "last_seen_at",
    "venue_id",
    "checked_in_at",
    "completed",
    "credit_hours_earned",
    "tally_unit_id",
    "tally",
    "tally_seconds",
)


@pytest.fixture(autouse=True)
def debug(settings: Any) -> None:
    settings.DEBUG = True


def seed(cadres: int, attendance: str | None = "ended") -> str:
    out = io.StringIO()
    options: dict[str, Any] = {"cadres": cadres}
    if attendance is not None:
        options["attendance"] = attendance
    call_command("seed_demo", stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def the_programme() -> Programme:
    return Programme.objects.get(title=demo_programme.PROGRAMME_TITLE)


def generated_rows() -> QuerySet[Attendance]:
    """The generator's rows (the demo cadre's own record is scripted, demo/live.py)."""
    return Attendance.objects.exclude(user__username__in=SCRIPTED)


def rows() -> list[tuple[Any, ...]]:
    return list(generated_rows().order_by("user_id", "lecture_id").values_list(*FIELDS))


def assert_summaries_match_a_rebuild(programme: Programme) -> None:
    lectures = list(programme.lectures.values_list("pk", flat=True))
    assert summaries_stored(lecture_ids=lectures, programme_ids=[programme.pk]) == (
        summaries_compute(lecture_ids=lectures, programme_ids=[programme.pk])
    )
    for lecture_id in lectures:  # every row's snapshot is what a sync would count
        assert attendance_summaries_sync(lecture_id=lecture_id) == 0


def test_ended_lectures_and_the_live_one_so_far() -> None:
    with time_machine.travel(NOW, tick=False):
        output = seed(cadres=600)
        now = timezone.now()
    programme = the_programme()
    lectures = {lec.sequence: lec for lec in programme.lectures.all()}
    by_lecture = {
        seq: Attendance.objects.filter(lecture=lec).count() for seq, lec in lectures.items()
    }
    assert all(by_lecture[seq] > 0 for seq in range(1, 7)), by_lecture
    assert all(by_lecture[seq] == 0 for seq in range(7, 11)), by_lecture
    assert f"attendance +{generated_rows().count()} (6 lectures)" in output

    live = lectures[6]
    so_far = (now - live.starts_at).total_seconds()
    for row in Attendance.objects.filter(lecture=live):
        assert row.replay_seconds == 0
        assert row.live_seconds <= so_far
        assert row.last_seen_at is None or row.last_seen_at <= now
        assert row.completed == (row.checked_in_at is not None)  # 20 minutes in: no one else
    for row in Attendance.objects.filter(lecture__sequence__lt=6, lecture__programme=programme):
        assert row.last_seen_at is None or row.last_seen_at <= now
        assert row.first_seen_at is None or row.first_seen_at >= row.lecture.starts_at
    assert_summaries_match_a_rebuild(programme)


def test_rows_agree_with_the_flush_rules() -> None:
    with time_machine.travel(NOW, tick=False):
        seed(cadres=600, attendance="all")
    programme = the_programme()
    enrolments = {
        e.user_id: e for e in Enrolment.objects.filter(programme=programme, status="active")
    }
    lectures = {lec.pk: lec for lec in programme.lectures.all()}
    seen = {"in_person": 0, "live": 0, "replay": 0, "done": 0, "not_done": 0, "audience": 0}
    for row in Attendance.objects.select_related("user"):
        lecture: Lecture = lectures[row.lecture_id]
        threshold = math.ceil(lecture.effective_completion_ratio * lecture.duration_minutes * 60)
        in_person = row.checked_in_at is not None
        assert row.completed == (in_person or row.credited_seconds >= threshold)
        assert row.credit_hours_earned == (lecture.credit_hours if row.completed else Decimal(0))
        assert row.live_seconds % 30 == 0 and row.replay_seconds % 30 == 0
        assert row.live_seconds <= lecture.duration_minutes * 60
        assert in_person or row.credited_seconds > 0
        enrolment = enrolments.get(row.user_id)
        if row.checked_in_at is not None:
            assert enrolment is not None and row.venue_id == enrolment.venue_id is not None
            assert row.checked_in_at < lecture.starts_at
        else:
            assert row.venue_id is None
        if enrolment is None:  # an audience member who looked in without enrolling
            assert row.user.username.startswith("gb") and not row.replay_seconds
            seen["audience"] += 1
        seen["in_person"] += in_person
        seen["live"] += row.live_seconds > 0
        seen["replay"] += row.replay_seconds > 0
        seen["done" if row.completed else "not_done"] += 1
    assert all(seen.values()), seen  # every kind of row occurs

    # Realistic shares over all ten lectures (600 cadres, ~420 enrolled).
    enrolled_rows = Attendance.objects.filter(user_id__in=list(enrolments)).count()
    rate = enrolled_rows / (len(enrolments) * 10)
    assert 0.7 < rate < 0.95, rate
    assert 0.7 < seen["done"] / (seen["done"] + seen["not_done"]) < 0.95
    assigned = [uid for uid, e in enrolments.items() if e.venue_id is not None]
    at_venue = Attendance.objects.filter(user_id__in=assigned)
    assert at_venue.exclude(checked_in_at=None).count() > 0.7 * at_venue.count()
    assert_summaries_match_a_rebuild(programme)


def test_rates_differ_by_level() -> None:
    with time_machine.travel(NOW, tick=False):
        seed(cadres=3000, attendance="all")
    programme = the_programme()
    rates = {}
    for kinds in (("province", "city", "county"), ("village",)):
        enrolled = Enrolment.objects.filter(programme=programme, user__unit__kind__in=kinds)
        users = list(enrolled.values_list("user_id", flat=True))
        attended = Attendance.objects.filter(user_id__in=users).count()
        rates[kinds[-1]] = attended / (len(users) * 10)
    assert rates["county"] > rates["village"] + 0.05, rates


def test_a_rerun_adds_nothing_and_changes_nothing() -> None:
    with time_machine.travel(NOW, tick=False):
        seed(cadres=300)
        before = rows()
        output = seed(cadres=300)
    assert "attendance +0 (6 lectures)" in output
    assert rows() == before

    # "all" afterwards adds the four upcoming lectures and keeps the live one's rows.
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        seed(cadres=300, attendance="all")
    after = rows()
    assert set(before) <= set(after)
    upcoming = set(the_programme().lectures.filter(sequence__gt=6).values_list("pk", flat=True))
    assert {row[1] for row in set(after) - set(before)} <= upcoming
    assert_summaries_match_a_rebuild(the_programme())


def test_generation_is_deterministic_per_cadre_and_lecture() -> None:
    with time_machine.travel(NOW, tick=False):
        seed(cadres=300, attendance=None)
        programme = the_programme()
        now = timezone.now()
        ended = list(attendance_rows(programme=programme, which="ended", now=now))
        everything = list(attendance_rows(programme=programme, which="all", now=now))
    assert ended == list(attendance_rows(programme=programme, which="ended", now=now))
    first_five = set(programme.lectures.filter(sequence__lt=6).values_list("pk", flat=True))
    # A cadre's row for an ended lecture does not depend on which lectures are generated.
    assert [r for r in ended if r[1] in first_five] == [r for r in everything if r[1] in first_five]


def test_bulk_path_writes_the_same_rows_as_copy() -> None:
    with time_machine.travel(NOW, tick=False):
        seed(cadres=200)
        copied = rows()
        generated_rows().delete()
        now = timezone.now()
        generated, created = _insert_bulk(
            attendance_rows(programme=the_programme(), which="ended", now=now), now
        )
    assert generated == created == len(copied)
    assert rows() == copied


def test_attendance_option_rejects_unknown_values() -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("seed_demo", "--cadres", "0", "--attendance", "future", stdout=io.StringIO())
