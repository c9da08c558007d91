"""The optional attention check ("仍在观看吗?"), enforced by the server: once a check is
due, heartbeats earn nothing (on every tab, and after reconnecting) until it is answered.
"""

# Fixtures are imported from tests/courses/attendance/attendance_support.py, so pytest arguments
# shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from courses.attendance.attention import AttentionGate, attention_gate_for
from courses.models import Lecture
from courses.services import enrolment_create
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.protocol import AttentionAnswer, parse
from portal.models import User
from tests.courses.attendance.attendance_support import (  # noqa: F401 (fixtures)
    SHANGHAI,
    START,
    backend,
    clock,
    live_lecture,
)
from tests.livestream.conftest import Client, open_socket

MEAN = 600  # 10 "minutes" of 60 s


@pytest.fixture(autouse=True)
def live_room(settings: Any) -> None:
    settings.LIVE_REDIS_URL = ""
    settings.LIVE_REDIS_PREFIX = f"zxtest:{uuid.uuid4().hex[:8]}:"
    settings.ATTENDANCE_ATTENTION_MINUTE_SECONDS = 60


@pytest.fixture
def checked_lecture(live_lecture: Lecture) -> Lecture:
    programme = live_lecture.programme
    programme.attention_check_minutes = MEAN // 60
    programme.save(update_fields=["attention_check_minutes"])
    return live_lecture


@pytest.fixture
def viewer(cadre: User, checked_lecture: Lecture) -> User:
    enrolment_create(user=cadre, programme=checked_lecture.programme)
    return cadre


def gate_for(user: User, lecture: Lecture) -> AttentionGate:
    return AttentionGate(lecture_id=lecture.pk, user_id=user.pk, mean_seconds=MEAN, joined_at=0)


def next_due(gate: AttentionGate, after: datetime) -> datetime:
    now = after.timestamp()
    slot = int(now // MEAN)
    due = gate.due_at(slot)
    if due <= now:
        due = gate.due_at(slot + 1)
    return datetime.fromtimestamp(due, tz=SHANGHAI)


async def heartbeat(client: Client) -> tuple[int, str | None]:
    """Send one heartbeat; (credited seconds, the check id if one came first)."""
    await client.send({"type": "heartbeat", "playing": True})
    check = None
    while True:
        frame = await client.recv()
        if frame["type"] == "attention.check":
            check = frame["check_id"]
        elif frame["type"] == "heartbeat.ack":
            return int(frame["credited_seconds"]), check


# -- the schedule ---------------------------------------------------------------------------


def test_checks_come_at_random_intervals_around_the_mean(settings):
    gate = AttentionGate(lecture_id=7, user_id=42, mean_seconds=MEAN, joined_at=0)
    dues = [gate.due_at(s) for s in range(1000, 1400)]
    gaps = [b - a for a, b in itertools.pairwise(dues)]
    assert all(MEAN / 2 <= g <= 3 * MEAN / 2 for g in gaps)
    assert abs(sum(gaps) / len(gaps) - MEAN) < MEAN * 0.05
    assert len(set(gaps)) > 100  # not a fixed rhythm
    other = AttentionGate(lecture_id=7, user_id=43, mean_seconds=MEAN, joined_at=0)
    assert [other.due_at(s) for s in range(1000, 1010)] != dues[:10]


def test_off_by_default(lecture: Lecture) -> None:
    assert lecture.programme.attention_check_minutes == 0
    assert attention_gate_for(lecture=lecture, user_id=1) is None


def test_check_ids_are_signed(settings):
    gate = AttentionGate(lecture_id=7, user_id=42, mean_seconds=MEAN, joined_at=0)
    real = gate.check_id(5000)
    assert gate.slot_of(real) == 5000
    assert gate.slot_of("5000.000000000000000000000000") is None
    assert gate.slot_of("x") is None
    other = AttentionGate(lecture_id=7, user_id=43, mean_seconds=MEAN, joined_at=0)
    assert other.slot_of(real) is None  # another user's check


def test_the_answer_frame_is_parsed_and_checked():
    assert parse('{"type": "attention.answer", "check_id": "12.ab"}') == AttentionAnswer("12.ab")
    for bad in ('{"type": "attention.answer"}', '{"type": "attention.answer", "check_id": ""}'):
        with pytest.raises(LiveError) as info:
            parse(bad)
        assert info.value.code == LiveErrorCode.INVALID


# -- through the room's socket ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_credit_pauses_until_the_check_is_answered(backend, clock, viewer, checked_lecture):
    gate = gate_for(viewer, checked_lecture)
    clock.move_to(START + timedelta(seconds=1))
    tab = await open_socket(viewer, checked_lecture.pk)
    credited, check = await heartbeat(tab)
    assert (credited, check) == (30, None)  # a check due before joining is not asked

    due = next_due(gate, START + timedelta(seconds=1))
    clock.move_to(due - timedelta(seconds=31))
    before, check = await heartbeat(tab)
    assert check is None and before == 60

    clock.move_to(due + timedelta(seconds=1))
    paused, check = await heartbeat(tab)
    assert check is not None and paused == before  # the heartbeat earned nothing
    clock.shift(30)
    assert await heartbeat(tab) == (before, check)  # still paused, asked again

    # reconnecting (or another tab) does not escape the check
    tab2 = await open_socket(viewer, checked_lecture.pk)
    assert await heartbeat(tab2) == (before, check)

    # a forged answer is refused
    await tab.send({"type": "attention.answer", "check_id": "1.deadbeef"})
    error = await tab.find("error")
    assert error["code"] == "invalid"

    await tab.send({"type": "attention.answer", "check_id": check})
    assert (await tab.find("attention.answered"))["check_id"] == check
    assert (await tab2.find("attention.answered"))["check_id"] == check  # the other tab too
    clock.shift(30)
    assert await heartbeat(tab) == (before + 30, None)
    clock.shift(30)
    assert await heartbeat(tab2) == (before + 60, None)
    await tab.close()
    await tab2.close()


@pytest.mark.django_db(transaction=True)
async def test_an_old_check_id_does_not_answer_a_newer_check(
    backend, clock, viewer, checked_lecture
):
    gate = gate_for(viewer, checked_lecture)
    clock.move_to(START + timedelta(seconds=1))
    tab = await open_socket(viewer, checked_lecture.pk)
    first_due = next_due(gate, START + timedelta(seconds=1))
    clock.move_to(first_due + timedelta(seconds=1))
    _credited, first = await heartbeat(tab)
    assert first is not None
    await tab.send({"type": "attention.answer", "check_id": first})
    await tab.find("attention.answered")

    second_due = next_due(gate, first_due + timedelta(seconds=1))
    clock.move_to(second_due + timedelta(seconds=1))
    credited, second = await heartbeat(tab)
    assert second is not None and second != first
    await tab.send({"type": "attention.answer", "check_id": first})  # a captured frame
    assert (await tab.find("error"))["code"] == "invalid"
    clock.shift(30)
    assert await heartbeat(tab) == (credited, second)
    await tab.close()


@pytest.mark.django_db(transaction=True)
async def test_no_checks_when_off(backend, clock, cadre, live_lecture):
    await sync_to_async(enrolment_create)(user=cadre, programme=live_lecture.programme)
    clock.move_to(START + timedelta(seconds=1))
    tab = await open_socket(cadre, live_lecture.pk)
    for n in range(1, 16):  # 7.5 minutes of windows
        assert await heartbeat(tab) == (30 * n, None)
        clock.shift(30)
    await tab.close()
