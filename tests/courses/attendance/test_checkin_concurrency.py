"""Staff 'mark all' check-in racing the heartbeat flush: both lock rows in user order, so
neither deadlocks (found in review: the check-in used to lock only checked-in rows first)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

import courses.attendance.checkin as checkin_mod
from courses.attendance.checkin import checkin_roster_mark
from courses.attendance.credit import attendance_flush
from courses.services import attendance_heartbeat, enrolment_assign_bulk
from tests.factories import LectureFactory, UserFactory, VenueFactory


def _wait_for_a_blocked_backend(*, timeout: float) -> bool:
    """True once another backend waits for a lock (PostgreSQL) within ``timeout``."""
    if connection.vendor != "postgresql":
        time.sleep(0.5)  # SQLite serialises writers; there is no lock table to watch
        return True
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


@pytest.mark.django_db(transaction=True)
def test_mark_all_racing_the_flush_does_not_deadlock(settings, tree, programme, monkeypatch):
    settings.ATTENDANCE_REDIS_URL = ""
    settings.ATTENDANCE_HEARTBEAT_SECONDS = 1
    settings.ATTENDANCE_FLUSH_SECONDS = 3600
    lecture = LectureFactory(
        programme=programme,
        sequence=1,
        starts_at=timezone.now() - timedelta(minutes=5),
        duration_minutes=90,
    )
    venue = VenueFactory(unit=tree.xihu)
    lecture.venues.add(venue)
    users = [UserFactory(unit=tree.lingyin) for _ in range(6)]
    enrolment_assign_bulk(programme=programme, users=users, venue=venue, assigned_by=None)
    staff = users[0]
    for u in users:
        attendance_heartbeat(user=u, lecture_id=lecture.pk, playing=True, replay=False)
    attendance_flush()  # rows exist now
    checkin_roster_mark(lecture=lecture, venue=venue, by=staff, user_ids=[users[4].pk])  # u5 in
    time.sleep(1.1)
    for u in users:
        attendance_heartbeat(user=u, lecture_id=lecture.pk, playing=True, replay=False)

    locked = threading.Event()
    errors: dict[str, object] = {}
    real = checkin_mod._upsert_sql

    def slow_upsert(source):
        locked.set()
        # Hold the marking transaction until the flush is blocked on its row locks
        # (a lock not granted in pg_locks), so the two really overlap.
        errors["flush_waited"] = _wait_for_a_blocked_backend(timeout=10)
        return real(source)

    monkeypatch.setattr(checkin_mod, "_upsert_sql", slow_upsert)

    def mark():
        try:
            checkin_roster_mark(lecture=lecture, venue=venue, by=staff)
        except Exception as exc:
            errors["mark"] = exc
        finally:
            connection.close()

    def flush():
        locked.wait(5)
        try:
            attendance_flush()
        except Exception as exc:
            errors["flush"] = exc
        finally:
            connection.close()

    a, b = threading.Thread(target=mark), threading.Thread(target=flush)
    a.start()
    b.start()
    a.join(20)
    b.join(20)
    assert errors.pop("flush_waited") is True, "the flush never waited on the marking"
    assert not errors, {k: repr(v)[:200] for k, v in errors.items()}
