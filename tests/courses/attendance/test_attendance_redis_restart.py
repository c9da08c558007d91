"""Fault test: the attendance buffer's Redis is killed (SIGKILL) and restarted in the middle
of heartbeats. Redis runs with AOF and ``appendfsync always``, as production must; the
server acknowledges a heartbeat only after the buffer write, so after the restart and a
flush every user's credited total is at least everything acknowledged, clients carry on
(reconnecting where their socket was lost), and nobody earns more than the time watched.

A private ``redis-server`` on a free port is used, so killing it disturbs no one else.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.test import Client as HttpClient
from django.utils import timezone
from websockets.asyncio.client import connect

from courses.attendance.buffer import buffer_reset
from courses.attendance.credit import attendance_flush, lecture_cache_clear
from courses.models import Attendance, Lecture, Programme
from courses.services import enrolment_create
from portal.models import User
from tests.factories import LectureFactory, UserFactory
from tests.livestream.servers import daphne, production_env
from tests.redis_server import PrivateRedis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.slow]

USERS = 4
HEARTBEAT_EVERY = 0.7  # s; the window is 1 s (ATTENDANCE_HEARTBEAT_SECONDS)
ACKS_BEFORE_KILL = 3  # per viewer: what the restart must not lose


@pytest.fixture
def durable_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(durable=True)
    server.start()
    yield server
    server.remove()


@pytest.fixture
def cadres(tree: Any, programme: Programme) -> list[User]:
    users = [UserFactory(username=f"hb{i}", unit=tree.lingyin) for i in range(USERS)]
    for user in users:
        enrolment_create(user=user, programme=programme)
    return users


@pytest.fixture
def running_lecture(programme: Programme) -> Lecture:
    return LectureFactory(
        programme=programme,
        sequence=1,
        starts_at=timezone.now() - timedelta(minutes=5),
        duration_minutes=90,
    )


def _cookie(user: User) -> str:
    client = HttpClient()
    client.force_login(user)
    return client.cookies["sessionid"].value


@dataclass
class Viewer:
    """A room client like the page's: heartbeats on a timer, reconnects when cut off."""

    port: int
    lecture_id: int
    cookie: str
    acked: list[tuple[float, int]] = field(default_factory=list)  # (time, credited)
    errors: int = 0
    connects: int = 0

    async def _open(self) -> Any:
        conn = await connect(
            f"ws://127.0.0.1:{self.port}/ws/lectures/{self.lecture_id}/",
            additional_headers={
                "Cookie": f"sessionid={self.cookie}",
                "Origin": f"http://127.0.0.1:{self.port}",
            },
            open_timeout=3,
        )
        self.connects += 1
        return conn

    async def _beat(self, conn: Any) -> None:
        await conn.send(json.dumps({"type": "heartbeat", "playing": True}))
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            frame = json.loads(await asyncio.wait_for(conn.recv(), 3))
            if frame["type"] == "heartbeat.ack":
                self.acked.append((time.monotonic(), int(frame["credited_seconds"])))
                return
            if frame["type"] == "error":  # not in the buffer: not acknowledged, resent later
                self.errors += 1
                return

    async def run(self, until: float, reconnect_at: float) -> None:
        conn: Any = None
        reconnected = False
        while time.monotonic() < until:
            try:
                if conn is not None and not reconnected and time.monotonic() >= reconnect_at:
                    reconnected = True  # like a page reload after the outage
                    await conn.close()
                    conn = None
                if conn is None:
                    conn = await self._open()
                await self._beat(conn)
            except (OSError, TimeoutError, websockets.WebSocketException):
                conn = None
            await asyncio.sleep(HEARTBEAT_EVERY)
        if conn is not None:
            await conn.close()


def test_no_acknowledged_heartbeat_is_lost_across_a_redis_restart(
    durable_redis: PrivateRedis,
    cadres: list[User],
    running_lecture: Lecture,
    settings: Any,
    tmp_path: Path,
) -> None:
    prefix = f"zxrr:{uuid.uuid4().hex[:8]}:"
    env = production_env(
        redis_url=f"{durable_redis.url}/0",
        prefix=prefix,
        extra={
            "ATTENDANCE_REDIS_URL": f"{durable_redis.url}/0",
            "ATTENDANCE_REDIS_PREFIX": prefix,
            "ATTENDANCE_HEARTBEAT_SECONDS": "1",
            "ATTENDANCE_FLUSH_SECONDS": "3600",
            "LIVE_REDIS_SOCKET_TIMEOUT": "1",
        },
    )
    cookies = [_cookie(user) for user in cadres]
    timeline: dict[str, float] = {}

    async def scenario(port: int) -> list[Viewer]:
        viewers = [Viewer(port, running_lecture.pk, cookie) for cookie in cookies]
        start = time.monotonic()
        until = start + 12
        tasks = [asyncio.create_task(v.run(until, reconnect_at=start + 8)) for v in viewers]
        # Kill Redis once every viewer has acknowledged heartbeats in the buffer.
        while min(len(v.acked) for v in viewers) < ACKS_BEFORE_KILL:
            assert time.monotonic() < start + 6, [len(v.acked) for v in viewers]
            await asyncio.sleep(0.05)
        timeline["killed"] = time.monotonic()
        await asyncio.to_thread(durable_redis.stop, hard=True)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(durable_redis.start)
        timeline["restarted"] = time.monotonic()
        await asyncio.gather(*tasks)
        timeline["wall"] = time.monotonic() - start
        return viewers

    with daphne(env, log=tmp_path / "daphne.log") as port:
        viewers = asyncio.run(scenario(port))

    # flush the restarted buffer into PostgreSQL (as beat would)
    settings.ATTENDANCE_REDIS_URL = f"{durable_redis.url}/0"
    settings.ATTENDANCE_REDIS_PREFIX = prefix
    buffer_reset()
    lecture_cache_clear()
    try:
        result = attendance_flush()
    finally:
        buffer_reset()
    assert result.rows == USERS
    credited = dict(
        Attendance.objects.filter(lecture=running_lecture).values_list("user_id", "live_seconds")
    )
    for user, viewer in zip(cadres, viewers, strict=True):
        before = [c for t, c in viewer.acked if t < timeline["killed"]]
        after = [c for t, c in viewer.acked if t > timeline["restarted"]]
        assert before, f"{user}: no heartbeat acknowledged before the restart"
        assert after and max(after) > max(before), f"{user}: did not carry on after the restart"
        assert viewer.connects >= 2  # reconnected after the outage
        acked_max = max(c for _t, c in viewer.acked)
        assert credited[user.pk] >= acked_max  # nothing acknowledged was lost
        assert credited[user.pk] <= timeline["wall"] + 2  # nor more than the time watched
