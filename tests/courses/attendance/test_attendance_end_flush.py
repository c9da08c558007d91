"""The flush "once more at lecture end": beat finds lectures whose credit window (end +
grace) just closed, claims each once, flushes; running it again changes nothing.

Every test runs with the in-process buffer and with a real Redis.
"""

# Fixtures are imported from tests/courses/attendance/attendance_support.py, so pytest arguments
# shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from courses.attendance.buffer import buffer_get
from courses.attendance.end_flush import (
    END_FLUSH_LOOKBACK_SECONDS,
    attendance_end_flush,
    lecture_ids_due_end_flush,
)
from courses.models import Attendance, Lecture
from courses.services import attendance_heartbeat
from courses.tasks import attendance_end_flush_task
from portal.models import User
from tests.courses.attendance.attendance_support import (  # noqa: F401 (fixtures)
    START,
    backend,
    clock,
    live_lecture,
)

pytestmark = pytest.mark.django_db

GRACE = 600  # the backend fixture's ATTENDANCE_GRACE_SECONDS


def watch(clock: Any, user: User, lecture: Lecture, *, windows: int) -> None:
    """Play through ``windows`` heartbeat windows from the lecture start."""
    clock.move_to(START + timedelta(seconds=1))
    for _ in range(windows):
        attendance_heartbeat(user=user, lecture_id=lecture.pk, playing=True, replay=False)
        clock.shift(30)


def seconds(user: User, lecture: Lecture) -> int | None:
    row = Attendance.objects.filter(user=user, lecture=lecture).first()
    return row.live_seconds if row else None


def test_nothing_is_due_while_the_credit_window_is_open(backend, clock, cadre, live_lecture):
    watch(clock, cadre, live_lecture, windows=2)
    clock.move_to(live_lecture.ends_at + timedelta(seconds=GRACE - 1))
    assert lecture_ids_due_end_flush() == []
    assert attendance_end_flush().lecture_ids == []
    assert seconds(cadre, live_lecture) is None  # still only in the buffer


def test_the_end_flush_moves_the_lecture_credit_once(backend, clock, cadre, live_lecture):
    watch(clock, cadre, live_lecture, windows=3)
    clock.move_to(live_lecture.ends_at + timedelta(seconds=GRACE + 5))
    result = attendance_end_flush()
    assert result.lecture_ids == [live_lecture.pk]
    assert result.flush is not None and result.flush.rows == 1
    assert seconds(cadre, live_lecture) == 90
    assert buffer_get().pending_count() == 0

    again = attendance_end_flush()  # the next beat tick: claimed already, nothing runs
    assert again.lecture_ids == [] and again.flush is None
    assert seconds(cadre, live_lecture) == 90


def test_the_beat_task_runs_it(backend, clock, cadre, live_lecture):
    watch(clock, cadre, live_lecture, windows=1)
    clock.move_to(live_lecture.ends_at + timedelta(seconds=GRACE + 5))
    assert attendance_end_flush_task() == 1
    assert attendance_end_flush_task() == 0
    assert seconds(cadre, live_lecture) == 30


def test_old_lectures_are_left_to_the_ordinary_flush(backend, clock, cadre, live_lecture):
    clock.move_to(live_lecture.ends_at + timedelta(seconds=GRACE + END_FLUSH_LOOKBACK_SECONDS + 1))
    assert lecture_ids_due_end_flush() == []


def test_a_force_ended_lecture_is_flushed_once_at_once(backend, clock, cadre, live_lecture):
    watch(clock, cadre, live_lecture, windows=2)
    live_lecture.status_override = Lecture.Override.ENDED
    live_lecture.save(update_fields=["status_override"])
    assert attendance_end_flush().lecture_ids == [live_lecture.pk]
    assert seconds(cadre, live_lecture) == 60
    assert attendance_end_flush().lecture_ids == []


def test_a_busy_flush_releases_the_claim_for_the_next_tick(backend, clock, cadre, live_lecture):
    watch(clock, cadre, live_lecture, windows=2)
    clock.move_to(live_lecture.ends_at + timedelta(seconds=GRACE + 5))
    with buffer_get().flush_lock() as got:  # another flush holds the lock
        assert got
        assert attendance_end_flush().lecture_ids == []
    assert seconds(cadre, live_lecture) is None
    assert attendance_end_flush().lecture_ids == [live_lecture.pk]
    assert seconds(cadre, live_lecture) == 60


def test_a_failed_flush_releases_the_claim(backend, clock, cadre, live_lecture, monkeypatch):
    watch(clock, cadre, live_lecture, windows=2)
    clock.move_to(live_lecture.ends_at + timedelta(seconds=GRACE + 5))

    def boom(**kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr("courses.attendance.end_flush.attendance_flush", boom)
    with pytest.raises(RuntimeError):
        attendance_end_flush()
    monkeypatch.undo()
    assert attendance_end_flush().lecture_ids == [live_lecture.pk]
    assert seconds(cadre, live_lecture) == 60


def test_beat_schedule_has_the_end_flush(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["attendance-end-flush"]
    assert entry["task"] == "courses.attendance_end_flush"
    assert entry["schedule"] <= 30
