"""Heartbeat credit, the buffer flush (idempotent, crash-safe), completion, corrections.

Every service test runs twice: with the in-process buffer and with a real Redis.
"""

# Fixtures are imported from tests/courses/attendance/attendance_support.py, so pytest arguments
# shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from courses.attendance.buffer import buffer_get
from courses.attendance.credit import attendance_flush, attendance_study_record, lecture_cache_clear
from courses.models import Attendance, AttendanceOverride, Lecture
from courses.services import attendance_heartbeat, attendance_override_create
from courses.tasks import attendance_flush_task
from portal.models import AuditLog, User
from tests.courses.attendance.attendance_support import (  # noqa: F401 (fixtures)
    START,
    backend,
    clock,
    forget_totals,
    live_lecture,
    short_lecture,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def beat(user: User, lecture: Lecture, *, playing: bool = True, replay: bool = False) -> int:
    return attendance_heartbeat(user=user, lecture_id=lecture.pk, playing=playing, replay=replay)


def at(clock: Any, when: Any) -> None:
    clock.move_to(when)


def row(user: User, lecture: Lecture) -> Attendance:
    return Attendance.objects.get(user=user, lecture=lecture)


# -- credit -------------------------------------------------------------------------------


def test_each_window_is_credited_once(backend, clock, cadre, live_lecture):
    at(clock, START + timedelta(seconds=5))
    assert beat(cadre, live_lecture) == 30
    assert beat(cadre, live_lecture) == 30  # resent frame in the same window
    clock.shift(30)
    assert beat(cadre, live_lecture) == 60


def test_heartbeats_faster_than_the_window_earn_one_window(backend, clock, cadre, live_lecture):
    at(clock, START + timedelta(seconds=1))
    for _ in range(9):
        total = beat(cadre, live_lecture)
        clock.shift(3)
    assert total == 30


def test_two_tabs_earn_what_one_tab_earns(backend, clock, cadre, live_lecture):
    at(clock, START)
    for _ in range(10):
        tab1 = beat(cadre, live_lecture)
        tab2 = beat(cadre, live_lecture)
        clock.shift(30)
    assert tab1 == tab2 == 300


def test_two_users_are_credited_separately(backend, clock, cadre, outsider, live_lecture):
    at(clock, START)
    assert beat(cadre, live_lecture) == 30
    assert beat(outsider, live_lecture) == 30
    clock.shift(30)
    assert beat(cadre, live_lecture) == 60
    attendance_flush()
    assert row(cadre, live_lecture).live_seconds == 60
    assert row(outsider, live_lecture).live_seconds == 30


def test_paused_player_earns_nothing(backend, clock, cadre, live_lecture):
    at(clock, START)
    assert beat(cadre, live_lecture, playing=False) == 0
    clock.shift(30)
    assert beat(cadre, live_lecture) == 30
    clock.shift(30)
    assert beat(cadre, live_lecture, playing=False) == 30


def test_no_live_credit_before_the_start(backend, clock, cadre, live_lecture):
    at(clock, START - timedelta(seconds=1))
    assert beat(cadre, live_lecture) == 0


def test_live_credit_within_the_grace_but_not_after(backend, clock, cadre, live_lecture):
    at(clock, live_lecture.ends_at + timedelta(seconds=599))
    assert beat(cadre, live_lecture) == 30
    at(clock, live_lecture.ends_at + timedelta(seconds=601, minutes=1))
    assert beat(cadre, live_lecture) == 30
    at(clock, live_lecture.ends_at + timedelta(days=1))
    assert beat(cadre, live_lecture) == 30


def test_forced_end_stops_live_credit(backend, clock, cadre, live_lecture):
    live_lecture.status_override = Lecture.Override.ENDED
    live_lecture.save(update_fields=["status_override"])
    at(clock, START + timedelta(minutes=10))
    assert beat(cadre, live_lecture) == 0


def test_replay_frames_during_the_live_lecture_earn_nothing(backend, clock, cadre, live_lecture):
    at(clock, START + timedelta(minutes=10))
    assert beat(cadre, live_lecture, replay=True) == 0


def test_replay_is_credited_separately_after_the_end(backend, clock, cadre, live_lecture):
    at(clock, START + timedelta(minutes=10))
    assert beat(cadre, live_lecture) == 30
    at(clock, START + timedelta(days=2))
    assert beat(cadre, live_lecture, replay=True) == 60
    assert beat(cadre, live_lecture, replay=True) == 60
    clock.shift(30)
    assert beat(cadre, live_lecture, replay=True) == 90
    attendance_flush()
    attendance = row(cadre, live_lecture)
    assert (attendance.live_seconds, attendance.replay_seconds) == (30, 60)


def test_live_and_replay_tabs_in_the_grace_earn_one_window(backend, clock, cadre, live_lecture):
    """Found in review: after the end both modes were open, so two tabs doubled the credit."""
    at(clock, live_lecture.ends_at + timedelta(seconds=5))
    for _ in range(20):  # the 600 s grace, 30 s windows, a live and a replay tab
        beat(cadre, live_lecture)
        beat(cadre, live_lecture, replay=True)
        clock.shift(30)
    attendance_flush()
    attendance = row(cadre, live_lecture)
    assert attendance.live_seconds + attendance.replay_seconds <= 600
    assert attendance.replay_seconds == 0


def test_replay_earns_nothing_when_the_programme_says_so(backend, clock, cadre, live_lecture):
    live_lecture.programme.replays_count = False
    live_lecture.programme.save(update_fields=["replays_count"])
    at(clock, START + timedelta(days=2))
    assert beat(cadre, live_lecture, replay=True) == 0
    assert attendance_flush().rows == 0


def test_unknown_lecture_earns_nothing(backend, clock, cadre):
    at(clock, START)
    assert attendance_heartbeat(user=cadre, lecture_id=999_999, playing=True, replay=False) == 0


def test_the_service_credits_only_the_user_it_is_given(
    backend, clock, cadre, outsider, live_lecture
):
    """The consumer passes the session user; nothing in a frame can name another user."""
    at(clock, START)
    beat(cadre, live_lecture)
    attendance_flush()
    assert not Attendance.objects.filter(user=outsider).exists()
    assert beat(outsider, live_lecture, playing=False) == 0


# -- totals after a flush -----------------------------------------------------------------


def test_a_flushed_window_is_not_credited_again(backend, clock, cadre, live_lecture):
    at(clock, START)
    assert beat(cadre, live_lecture) == 30
    attendance_flush()
    assert beat(cadre, live_lecture) == 30  # same window, after the flush
    assert attendance_flush().rows == 0
    assert row(cadre, live_lecture).live_seconds == 30


def test_total_is_flushed_plus_buffered(backend, clock, cadre, live_lecture):
    at(clock, START)
    beat(cadre, live_lecture)
    attendance_flush()
    forget_totals()  # e.g. a new server process: the total is seeded from SQL once
    clock.shift(30)
    assert beat(cadre, live_lecture) == 60
    assert beat(cadre, live_lecture, playing=False) == 60
    attendance_flush()
    assert row(cadre, live_lecture).live_seconds == 60


def test_first_and_last_seen(backend, clock, cadre, live_lecture):
    at(clock, START + timedelta(seconds=10))
    beat(cadre, live_lecture)
    attendance_flush()
    clock.shift(300)
    beat(cadre, live_lecture)
    attendance_flush()
    attendance = row(cadre, live_lecture)
    assert attendance.first_seen_at == START + timedelta(seconds=10)
    assert attendance.last_seen_at == START + timedelta(seconds=310)


# -- flush ----------------------------------------------------------------------------------


def _watch(clock: Any, users: list[User], lecture: Lecture, windows: int) -> None:
    at(clock, lecture.starts_at)
    for _ in range(windows):
        for user in users:
            beat(user, lecture)
        clock.shift(30)


def _totals() -> dict[tuple[int, int], tuple[int, int, bool, Decimal]]:
    return {
        (a.user_id, a.lecture_id): (
            a.live_seconds,
            a.replay_seconds,
            a.completed,
            a.credit_hours_earned,
        )
        for a in Attendance.objects.all()
    }


def test_flush_twice_changes_nothing(backend, clock, cadre, live_lecture):
    _watch(clock, [cadre], live_lecture, 3)
    first = attendance_flush()
    assert first.rows == 1
    before = _totals()
    second = attendance_flush()
    assert second.flush_id is None
    assert _totals() == before == {(cadre.pk, live_lecture.pk): (90, 0, False, Decimal("0"))}
    assert buffer_get().pending_count() == 0


def test_flush_killed_half_way_then_rerun_equals_an_uninterrupted_run(
    backend, clock, settings, tree, live_lecture
):
    settings.ATTENDANCE_FLUSH_BATCH = 2
    users = [UserFactory(unit=tree.lingyin) for _ in range(5)]
    _watch(clock, users, live_lecture, 2)
    attendance_flush()  # an earlier, complete flush
    at(clock, START + timedelta(seconds=60))
    for user in users[:4]:
        beat(user, live_lecture)

    inserts = 0

    def die_on_second_batch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal inserts
        if sql.startswith("INSERT INTO courses_attendance"):
            inserts += 1
            if inserts == 2:
                raise RuntimeError("worker killed")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(die_on_second_batch), pytest.raises(RuntimeError):
        attendance_flush()
    half = _totals()
    assert sum(v[0] for v in half.values()) == 5 * 60 + 2 * 30  # batch 1 committed only

    attendance_flush()  # the re-run resumes the same batch
    assert attendance_flush().flush_id is None
    expected = {
        (u.pk, live_lecture.pk): (90 if i < 4 else 60, 0, False, Decimal("0"))
        for i, u in enumerate(users)
    }
    assert _totals() == expected


def test_crash_between_commit_and_buffer_delete_does_not_double_count(
    backend, clock, cadre, live_lecture, monkeypatch
):
    _watch(clock, [cadre], live_lecture, 2)
    buffer = buffer_get()

    def die(flush_id: str) -> None:
        raise ConnectionError("killed before the buffer was cleared")

    monkeypatch.setattr(buffer, "flush_end", die)
    with pytest.raises(ConnectionError):
        attendance_flush()
    monkeypatch.undo()
    assert row(cadre, live_lecture).live_seconds == 60
    clock.shift(30)
    beat(cadre, live_lecture)  # new credit waits in the next batch
    assert attendance_flush().rows == 1  # the dead batch: every row already stamped
    attendance_flush()
    assert row(cadre, live_lecture).live_seconds == 90
    assert beat(cadre, live_lecture) == 90


def test_flush_drops_credit_of_deleted_users(backend, clock, tree, live_lecture):
    gone = UserFactory(unit=tree.lingyin)
    _watch(clock, [gone], live_lecture, 1)
    gone.delete()
    result = attendance_flush()
    assert (result.rows, result.dropped) == (0, 1)
    assert buffer_get().pending_count() == 0


def test_the_beat_task_flushes(backend, clock, cadre, live_lecture):
    _watch(clock, [cadre], live_lecture, 2)
    assert attendance_flush_task() == 1
    assert row(cadre, live_lecture).live_seconds == 60


def test_beat_schedule_has_the_flush(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["attendance-flush"]
    assert entry["task"] == "courses.attendance_flush"
    assert attendance_flush_task.name == "courses.attendance_flush"


# -- completion -------------------------------------------------------------------------------


def test_completion_needs_the_threshold(backend, clock, cadre, short_lecture):
    _watch(clock, [cadre], short_lecture, 3)  # 90 s < 0.8 × 120 s
    attendance_flush()
    attendance = row(cadre, short_lecture)
    assert (attendance.completed, attendance.credit_hours_earned) == (False, Decimal("0"))
    at(clock, short_lecture.starts_at + timedelta(seconds=95))
    beat(cadre, short_lecture)  # the 4th window, in the grace period: 120 s ≥ 96 s
    attendance_flush()
    attendance = row(cadre, short_lecture)
    assert attendance.live_seconds == 120
    assert attendance.completed is True
    assert attendance.credit_hours_earned == short_lecture.credit_hours


def test_completion_in_a_single_flush(backend, clock, cadre, short_lecture):
    _watch(clock, [cadre], short_lecture, 4)
    attendance_flush()
    assert row(cadre, short_lecture).completed is True


def test_live_and_replay_add_up_to_completion(backend, clock, cadre, short_lecture):
    _watch(clock, [cadre], short_lecture, 2)
    at(clock, short_lecture.ends_at + timedelta(days=1))
    for _ in range(2):
        beat(cadre, short_lecture, replay=True)
        clock.shift(30)
    attendance_flush()
    attendance = row(cadre, short_lecture)
    assert (attendance.live_seconds, attendance.replay_seconds, attendance.completed) == (
        60,
        60,
        True,
    )


def test_lecture_threshold_overrides_the_default(backend, clock, cadre, short_lecture):
    short_lecture.completion_ratio = Decimal("0.25")  # 30 s
    short_lecture.save(update_fields=["completion_ratio"])
    lecture_cache_clear()
    _watch(clock, [cadre], short_lecture, 1)
    attendance_flush()
    assert row(cadre, short_lecture).completed is True


# -- corrections and the study record ----------------------------------------------------------


def test_override_is_audited_and_leaves_the_raw_row(
    backend, clock, cadre, organiser, short_lecture
):
    _watch(clock, [cadre], short_lecture, 1)
    attendance_flush()
    attendance = row(cadre, short_lecture)
    attendance_override_create(
        attendance=attendance, completed=True, reason="集中收看签到漏记", by=organiser
    )
    attendance.refresh_from_db()
    assert attendance.completed is False  # raw record unchanged
    assert AttendanceOverride.objects.get().reason == "集中收看签到漏记"
    assert AuditLog.objects.filter(action="attendance.override").count() == 1
    line = attendance_study_record(user=cadre).lines[0]
    assert (line.completed, line.corrected, line.credit_hours) == (
        True,
        True,
        short_lecture.credit_hours,
    )


def test_override_needs_a_reason(backend, clock, cadre, organiser, short_lecture):
    _watch(clock, [cadre], short_lecture, 1)
    attendance_flush()
    with pytest.raises(ValidationError):
        attendance_override_create(
            attendance=row(cadre, short_lecture), completed=True, reason="  ", by=organiser
        )
    assert not AttendanceOverride.objects.exists()


def test_study_record_totals_per_programme_and_year(
    backend, clock, cadre, live_lecture, short_lecture
):
    _watch(clock, [cadre], live_lecture, 2)
    _watch(clock, [cadre], short_lecture, 4)
    attendance_flush()
    record = attendance_study_record(user=cadre)
    assert [line.lecture.pk for line in record.lines] == [short_lecture.pk, live_lecture.pk]
    assert len(record.by_programme) == 1
    programme_total = record.by_programme[0]
    assert (programme_total.lectures, programme_total.completed, programme_total.minutes) == (
        2,
        1,
        3,
    )
    assert programme_total.credit_hours == short_lecture.credit_hours
    assert [y.label for y in record.by_year] == ["2025"]
    assert record.total.credit_hours == short_lecture.credit_hours
