"""Heartbeats through the live room's websocket: the ack carries the true credited total."""

# Fixtures are imported from tests/courses/attendance/attendance_support.py, so pytest arguments
# shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from courses.attendance.credit import attendance_flush
from courses.models import Attendance, Lecture
from courses.services import enrolment_create
from portal.models import User
from tests.courses.attendance.attendance_support import (  # noqa: F401 (fixtures)
    START,
    backend,
    clock,
    live_lecture,
)
from tests.factories import UserFactory
from tests.livestream.conftest import open_socket, orm

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def live_room(settings: Any) -> None:
    settings.LIVE_REDIS_URL = ""
    settings.LIVE_REDIS_PREFIX = f"zxtest:{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def viewer(cadre: User, live_lecture: Lecture) -> User:
    enrolment_create(user=cadre, programme=live_lecture.programme)
    return cadre


@pytest.fixture
def neighbour(tree: Any, live_lecture: Lecture) -> User:
    user = UserFactory(username="cadre2", full_name="王五", unit=tree.village)
    enrolment_create(user=user, programme=live_lecture.programme)
    return user


async def heartbeat(client: Any, **extra: Any) -> int:
    await client.send({"type": "heartbeat", "playing": True, **extra})
    return int((await client.find("heartbeat.ack"))["credited_seconds"])


async def test_two_tabs_and_resent_frames_earn_one_window(backend, clock, viewer, live_lecture):
    clock.move_to(START + timedelta(seconds=5))
    tab1 = await open_socket(viewer, live_lecture.pk)
    tab2 = await open_socket(viewer, live_lecture.pk)
    assert await heartbeat(tab1) == 30
    assert await heartbeat(tab1) == 30
    assert await heartbeat(tab2) == 30
    clock.shift(30)
    assert await heartbeat(tab2) == 60
    assert await heartbeat(tab1) == 60
    await tab1.close()
    await tab2.close()

    await orm(attendance_flush)
    attendance = await orm(lambda: Attendance.objects.get(user=viewer, lecture=live_lecture))
    assert attendance.live_seconds == 60


async def test_a_frame_cannot_credit_another_user_or_state_a_duration(
    backend, clock, viewer, neighbour, live_lecture
):
    clock.move_to(START)
    client = await open_socket(viewer, live_lecture.pk)
    forged = {"user_id": neighbour.pk, "user": neighbour.username, "seconds": 5400}
    await client.send({"type": "heartbeat", "playing": True, **forged})
    reply = await client.find("heartbeat.ack")
    assert reply["credited_seconds"] == 30  # the session user's one window, nothing more
    await client.close()

    await orm(attendance_flush)
    rows = await orm(lambda: list(Attendance.objects.values_list("user_id", "live_seconds")))
    assert rows == [(viewer.pk, 30)]


async def test_ack_after_a_flush_still_carries_the_total(backend, clock, viewer, live_lecture):
    clock.move_to(START)
    client = await open_socket(viewer, live_lecture.pk)
    assert await heartbeat(client) == 30
    await orm(attendance_flush)
    clock.shift(30)
    assert await heartbeat(client) == 60
    assert await heartbeat(client, replay=True) == 60  # no replay credit while live
    await client.close()


async def test_paused_or_not_live_heartbeats_are_acked_with_zero(
    backend, clock, viewer, live_lecture
):
    clock.move_to(START - timedelta(minutes=5))
    client = await open_socket(viewer, live_lecture.pk)
    assert await heartbeat(client) == 0
    clock.move_to(START)
    await client.send({"type": "heartbeat", "playing": False})
    assert (await client.find("heartbeat.ack"))["credited_seconds"] == 0
    await client.close()
