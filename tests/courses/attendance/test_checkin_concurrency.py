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
    errors = {}
    real = checkin_mod._upsert_sql

    def slow_upsert(source):
        locked.set()
        time.sleep(1.5)  # the flush starts meanwhile and blocks on u5
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
    assert not errors, {k: repr(v)[:200] for k, v in errors.items()}
