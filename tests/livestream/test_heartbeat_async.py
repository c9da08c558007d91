"""The heartbeat's async path (issue 4 benchmark): the socket's event loop credits the
heartbeat without a thread hop, acknowledges it only once it is in the buffer, with the
same credit rules as the sync service, on Redis (batched script calls) and in memory.
Also the lean per-socket state of the live-room consumer (issue 3, RSS per socket)."""

# Fixtures are imported from tests/courses/attendance/attendance_support.py, so pytest arguments
# shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from django.db.models import Model

import courses.attendance.credit as attendance
from courses.attendance.buffer import MemoryBuffer, RedisBuffer, _CreditBatcher, buffer_get
from courses.attendance.credit import (
    attendance_flush,
    attendance_heartbeat,
    attendance_heartbeat_async,
)
from courses.models import Attendance, Lecture
from courses.services import enrolment_create
from livestream import consumers
from livestream.consumers import LiveRoomConsumer
from livestream.hub import hub_get
from livestream.selectors import Seat
from portal.models import User
from tests.courses.attendance.attendance_support import (  # noqa: F401 (fixtures)
    START,
    backend,
    clock,
    forget_totals,
    live_lecture,
    short_lecture,
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


async def beat(user: User, lecture: Lecture, *, playing: bool = True, replay: bool = False) -> int:
    return await attendance_heartbeat_async(
        user_id=user.pk, lecture_id=lecture.pk, playing=playing, replay=replay
    )


async def ack(client: Any, **extra: Any) -> int:
    await client.send({"type": "heartbeat", "playing": True, **extra})
    return int((await client.find("heartbeat.ack"))["credited_seconds"])


async def frames_within(client: Any, seconds: float) -> list[str]:
    """The types of the frames that arrive within ``seconds`` (viewer counts left out)."""
    kinds: list[str] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        if await client.comm.receive_nothing(left):  # (a receive timeout would end the app)
            break
        frame = await client.recv()
        if frame["type"] != "viewers":
            kinds.append(frame["type"])
    return kinds


# -- the same credit rules as the sync service ----------------------------------------------


async def test_async_path_follows_the_credit_rules(backend, clock, cadre, live_lecture):
    clock.move_to(START - timedelta(minutes=1))
    assert await beat(cadre, live_lecture) == 0  # not live yet
    clock.move_to(START + timedelta(seconds=5))
    assert await beat(cadre, live_lecture, playing=False) == 0  # paused
    assert await beat(cadre, live_lecture) == 30
    assert await beat(cadre, live_lecture) == 30  # a resent frame: same window
    assert await beat(cadre, live_lecture, replay=True) == 30  # no replay credit while live
    clock.shift(30)
    assert await beat(cadre, live_lecture) == 60
    # the sync service sees the same buffer and agrees
    assert (
        await orm(
            lambda: attendance_heartbeat(
                user=cadre, lecture_id=live_lecture.pk, playing=True, replay=False
            )
        )
        == 60
    )
    clock.move_to(START + timedelta(minutes=90, seconds=601))
    assert await beat(cadre, live_lecture) == 60  # after the grace period


async def test_heartbeats_arriving_together_earn_one_window_each_user(
    backend, clock, cadre, outsider, live_lecture
):
    clock.move_to(START)
    tabs = [beat(cadre, live_lecture) for _ in range(20)]
    others = [beat(outsider, live_lecture) for _ in range(5)]
    results = await asyncio.gather(*tabs, *others)
    assert results == [30] * 25
    await orm(attendance_flush)
    rows = await orm(
        lambda: sorted(Attendance.objects.values_list("user__username", "live_seconds"))
    )
    assert rows == [("cadre1", 30), ("outsider", 30)]


async def test_cold_totals_are_seeded_from_the_database(backend, clock, cadre, live_lecture):
    clock.move_to(START)
    assert await beat(cadre, live_lecture) == 30
    await orm(attendance_flush)
    await orm(forget_totals)  # as after the totals' TTL, or on another process
    clock.shift(30)
    assert await beat(cadre, live_lecture) == 60  # 30 flushed + 30 buffered


async def test_unknown_lecture_earns_nothing(backend, clock, cadre):
    clock.move_to(START)
    assert (
        await attendance_heartbeat_async(
            user_id=cadre.pk, lecture_id=999_999, playing=True, replay=False
        )
        == 0
    )


# -- no thread hop on the warm path ---------------------------------------------------------


async def test_warm_heartbeats_make_no_thread_hop(backend, clock, cadre, live_lecture, monkeypatch):
    clock.move_to(START)
    hops: list[str] = []
    real = attendance._in_thread

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", str(fn)))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(attendance, "_in_thread", counting)
    assert await beat(cadre, live_lecture) == 30
    assert sorted(hops) == ["_flushed_totals", "_lecture_times"]  # the cold caches
    hops.clear()
    for _ in range(3):
        clock.shift(30)
        await beat(cadre, live_lecture)
    assert hops == []


async def test_a_cold_schedule_is_read_once_for_many_heartbeats(
    backend, clock, cadre, outsider, live_lecture, monkeypatch
):
    clock.move_to(START)
    reads: list[int] = []
    real = attendance._lecture_times

    def counting(lecture_id: int) -> Any:
        reads.append(lecture_id)
        return real(lecture_id)

    monkeypatch.setattr(attendance, "_lecture_times", counting)
    await asyncio.gather(*(beat(u, live_lecture) for u in (cadre, outsider) * 5))
    assert reads == [live_lecture.pk]


async def test_the_consumer_acks_heartbeats_without_run_sync(
    backend, clock, viewer, live_lecture, monkeypatch
):
    clock.move_to(START)
    client = await open_socket(viewer, live_lecture.pk)
    assert await ack(client) == 30  # warms the caches
    calls: list[Any] = []
    real = consumers.run_sync

    async def counting(fn: Any, **kwargs: Any) -> Any:
        calls.append(fn)
        return await real(fn, **kwargs)

    monkeypatch.setattr(consumers, "run_sync", counting)
    clock.shift(30)
    assert await ack(client) == 60
    assert calls == []
    await client.close()


# -- acknowledged only once in Redis --------------------------------------------------------


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_the_ack_waits_for_redis(backend, clock, viewer, live_lecture, monkeypatch):
    clock.move_to(START)
    gate = asyncio.Event()
    entered = asyncio.Event()
    real = _CreditBatcher._execute

    async def held(self: _CreditBatcher, calls: Any) -> Any:
        entered.set()
        await gate.wait()
        return await real(self, calls)

    monkeypatch.setattr(_CreditBatcher, "_execute", held)
    client = await open_socket(viewer, live_lecture.pk)
    await client.send({"type": "heartbeat", "playing": True})
    await asyncio.wait_for(entered.wait(), 3)
    await asyncio.sleep(0.2)
    assert await frames_within(client, 0.3) == []  # no ack while the call is outstanding
    buffer = buffer_get()
    assert isinstance(buffer, RedisBuffer)
    assert await orm(buffer.pending_count) == 0
    gate.set()
    reply = await client.find("heartbeat.ack")
    assert reply["credited_seconds"] == 30
    assert await orm(buffer.pending_count) == 1  # in the buffer before the ack was sent
    await client.close()


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_a_failed_redis_call_is_never_acknowledged(
    backend, clock, viewer, live_lecture, monkeypatch
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    clock.move_to(START)
    client = await open_socket(viewer, live_lecture.pk)

    async def down(self: _CreditBatcher, calls: Any) -> Any:
        raise RedisConnectionError("Redis is down")

    monkeypatch.setattr(_CreditBatcher, "_execute", down)
    await client.send({"type": "heartbeat", "playing": True})
    assert await frames_within(client, 0.5) == ["error"]  # no ack: the client resends
    monkeypatch.undo()
    assert await ack(client) == 30
    await client.close()


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_heartbeats_arriving_together_share_one_script_call(
    backend, clock, cadre, outsider, live_lecture
):
    clock.move_to(START)
    await beat(cadre, live_lecture)  # warm: schedule cached, totals seeded
    await beat(outsider, live_lecture)
    buffer = buffer_get()
    assert isinstance(buffer, RedisBuffer)
    batcher = buffer._batcher_for_loop()
    before = batcher.batches
    clock.shift(30)
    users = [cadre, outsider] * 50
    assert await asyncio.gather(*(beat(u, live_lecture) for u in users)) == [60] * 100
    assert batcher.batches - before == 1
    await batcher.aclose()


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_the_batch_script_is_loaded_when_redis_forgot_it(backend, clock, cadre, live_lecture):
    clock.move_to(START)
    assert await beat(cadre, live_lecture) == 30
    buffer = buffer_get()
    assert isinstance(buffer, RedisBuffer)
    batcher = buffer._batcher_for_loop()
    await batcher.client.script_flush()  # as after a Redis restart without persistence
    clock.shift(30)
    assert await beat(cadre, live_lecture) == 60


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_memory_buffer_serves_the_async_path(backend, clock, viewer, live_lecture):
    assert isinstance(buffer_get(), MemoryBuffer)
    clock.move_to(START)
    client = await open_socket(viewer, live_lecture.pk)
    assert await ack(client) == 30
    clock.shift(30)
    assert await ack(client) == 60
    await client.close()
    await orm(attendance_flush)
    assert await orm(lambda: Attendance.objects.get(user=viewer).live_seconds) == 60


# -- lean sockets (issue 3) -----------------------------------------------------------------


async def test_a_socket_keeps_ids_not_model_instances(viewer, live_lecture):
    client = await open_socket(viewer, live_lecture.pk)
    (sink,) = hub_get().rooms[live_lecture.pk]
    consumer = sink.consumer  # type: ignore[attr-defined]  # the ASGI sink of the tests
    assert consumer.seat == Seat(user_id=viewer.pk, lecture_id=live_lecture.pk, role="viewer")
    assert consumer.channel_layer is None
    kept = {name: value for name, value in vars(consumer).items() if name != "scope"}
    assert not [name for name, value in kept.items() if isinstance(value, Model)]
    await client.close()


async def test_channels_call_sets_up_nothing_else_without_a_channel_layer():
    """LiveRoomConsumer.__call__ replaces Channels' AsyncConsumer.__call__; if Channels
    starts setting up more per consumer, this fails and the override needs a look."""

    class Probe(AsyncConsumer):
        channel_layer_alias = LiveRoomConsumer.channel_layer_alias

        async def dispatch(self, message: Any) -> None:
            raise StopConsumer

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:  # pragma: no cover - never called
        pass

    probe = Probe()
    await probe({"type": "websocket"}, receive, send)
    assert set(vars(probe)) == {"scope", "channel_layer", "base_send"}
    assert probe.channel_layer is None


async def test_second_user_in_a_batch_gets_its_own_total(backend, clock, cadre, live_lecture):
    clock.move_to(START)
    other = await orm(lambda: UserFactory(username="cadre9", unit=cadre.unit))
    first, second = await asyncio.gather(beat(cadre, live_lecture), beat(other, live_lecture))
    clock.shift(30)
    third = await beat(cadre, live_lecture)
    assert (first, second, third) == (30, 30, 60)


# -- viewers: one user on two processes counts once (Redis) -------------------------------


def test_a_user_on_two_processes_is_one_viewer(redis_url, settings):
    from livestream.store import RedisStore, store_get

    settings.LIVE_REDIS_URL = redis_url
    settings.LIVE_VIEWERS_INTERVAL_SECONDS = 60.0
    store = store_get()
    assert isinstance(store, RedisStore)
    store.presence_set(lecture_id=7, process_id="a", count=2, user_ids={1, 2})
    store.presence_set(lecture_id=7, process_id="b", count=2, user_ids={2, 3})
    assert store.presence_total(lecture_id=7) == 3  # user 2 has tabs on both processes
    store.presence_set(lecture_id=7, process_id="a", count=0, user_ids=set())
    assert store.presence_total(lecture_id=7) == 2  # a's users left: the sum is lower
    store.presence_set(lecture_id=8, process_id="a", count=4)  # counts only: summed
    store.presence_set(lecture_id=8, process_id="b", count=1)
    assert store.presence_total(lecture_id=8) == 5
