"""Attendance test helpers: a buffer per test (in-process or real Redis), a frozen clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from courses.attendance.buffer import buffer_get
from courses.models import Lecture, Programme
from tests.factories import LectureFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 10:00 in Shanghai is 02:00 UTC: a multiple of 30 s, so window 0 starts at the lecture start.
START = datetime(2025, 3, 6, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, settings: Any) -> str:
    settings.ATTENDANCE_HEARTBEAT_SECONDS = 30
    settings.ATTENDANCE_GRACE_SECONDS = 600
    settings.ATTENDANCE_FLUSH_SECONDS = 3600  # no self-flush during a test
    settings.ATTENDANCE_COMPLETION_RATIO = 0.8
    settings.ATTENDANCE_REDIS_PREFIX = f"zxtest:att:{uuid.uuid4().hex[:8]}:"
    if request.param == "redis":
        settings.ATTENDANCE_REDIS_URL = request.getfixturevalue("redis_url")
    else:
        settings.ATTENDANCE_REDIS_URL = ""
    return str(request.param)  # (buffers and caches: reset around every test, conftest.py)


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(START - timedelta(hours=1), tick=False) as traveller:
        yield traveller


@pytest.fixture
def live_lecture(programme: Programme) -> Lecture:
    """90 minutes from START; completion needs 0.8 × 90 min = 72 min."""
    return LectureFactory(programme=programme, sequence=1, starts_at=START, duration_minutes=90)


@pytest.fixture
def short_lecture(programme: Programme) -> Lecture:
    """2 minutes from START + 1 day; completion needs 96 s, i.e. four 30 s windows."""
    return LectureFactory(
        programme=programme,
        sequence=2,
        starts_at=START + timedelta(days=1),
        duration_minutes=2,
    )


def forget_totals() -> None:
    """Drop the buffer's cached cumulative totals (as after their TTL or a new process)."""
    buffer = buffer_get()
    if hasattr(buffer, "totals"):
        buffer.totals.clear()
    else:
        client = buffer.client  # type: ignore[attr-defined]
        for key in client.scan_iter(f"{buffer.prefix}total:*"):  # type: ignore[attr-defined]
            client.delete(key)
