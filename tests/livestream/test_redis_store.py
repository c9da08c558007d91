"""The Redis-backed live state and hub: seq, ring, gates, presence, idle subscriptions."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from livestream import broadcast
from livestream.store import (
    SEQ_CURRENT,
    SEQ_NEXT,
    SEQ_NONE,
    SERIES_POINTS,
    RedisStore,
    envelope_parse,
    store_get,
)
from tests.livestream.conftest import open_socket

pytestmark = [pytest.mark.redis]


@pytest.fixture
def redis_store(redis_url, settings) -> RedisStore:
    settings.LIVE_REDIS_URL = redis_url
    store = store_get()
    assert isinstance(store, RedisStore)
    return store


def test_publish_is_one_script_with_seq_ring_and_one_publish(redis_store):
    sub = redis_store.client.pubsub(ignore_subscribe_messages=True)
    sub.subscribe(redis_store.channel(lecture_id=7))
    assert (
        redis_store.publish(
            lecture_id=7, audience="all", payload_json='{"type":"a"}', mode=SEQ_NEXT
        )
        == 1
    )
    assert (
        redis_store.publish(
            lecture_id=7, audience="mod", payload_json='{"type":"m"}', mode=SEQ_CURRENT
        )
        == 1
    )
    assert (
        redis_store.publish(
            lecture_id=7, audience="u:3", payload_json='{"type":"r"}', mode=SEQ_NONE
        )
        == 0
    )
    assert (
        redis_store.publish(
            lecture_id=7, audience="all", payload_json='{"type":"b"}', mode=SEQ_NEXT
        )
        == 2
    )
    got = []
    for _n in range(50):
        message = sub.get_message(timeout=0.1)
        if message:
            got.append(envelope_parse(message["data"]))
        if len(got) == 4:
            break
    assert got == [
        ("all", 1, b'{"seq":1,"type":"a"}'),
        ("mod", 1, b'{"seq":1,"type":"m"}'),
        ("u:3", 0, b'{"type":"r"}'),
        ("all", 2, b'{"seq":2,"type":"b"}'),
    ]
    sub.close()
    assert redis_store.seq_current(lecture_id=7) == 2
    assert redis_store.events_since(lecture_id=7, last_seq=0) == [
        '{"seq":1,"type":"a"}',
        '{"seq":2,"type":"b"}',
    ]
    assert redis_store.events_since(lecture_id=7, last_seq=2) == []
    assert redis_store.events_since(lecture_id=7, last_seq=3) is None


def test_ring_is_bounded_and_old_seq_means_state(redis_store, settings):
    settings.LIVE_RING_SIZE = 3
    for n in range(5):
        redis_store.publish(
            lecture_id=1, audience="all", payload_json=f'{{"n":{n}}}', mode=SEQ_NEXT
        )
    assert redis_store.client.zcard(redis_store._k("ring", 1)) == 3
    assert redis_store.events_since(lecture_id=1, last_seq=2) == [
        '{"seq":3,"n":2}',
        '{"seq":4,"n":3}',
        '{"seq":5,"n":4}',
    ]
    assert redis_store.events_since(lecture_id=1, last_seq=1) is None


def test_gate_presence_votes_status(redis_store):
    assert redis_store.gate(key="g", seconds=1)
    assert not redis_store.gate(key="g", seconds=1)
    redis_store.presence_set(lecture_id=1, process_id="a", count=3)
    redis_store.presence_set(lecture_id=1, process_id="b", count=4)
    assert redis_store.presence_total(lecture_id=1) == 7
    redis_store.presence_set(lecture_id=1, process_id="a", count=0)
    assert redis_store.presence_total(lecture_id=1) == 4
    redis_store.mark(kind="votes", lecture_id=1, item_id=5)
    redis_store.mark(kind="votes", lecture_id=1, item_id=5)
    redis_store.mark(kind="votes", lecture_id=1, item_id=6)
    assert redis_store.take(kind="votes", lecture_id=1) == {5, 6}
    assert redis_store.take(kind="votes", lecture_id=1) == set()
    redis_store.mark(kind="queue", lecture_id=1, item_id=7)  # kinds are separate sets
    assert redis_store.take(kind="votes", lecture_id=1) == set()
    assert redis_store.take(kind="queue", lecture_id=1) == {7}
    assert redis_store.status_swap(lecture_id=1, status="scheduled") is None
    assert redis_store.status_swap(lecture_id=1, status="live") == "scheduled"


def test_command_pool_has_explicit_timeout_and_size(redis_store, settings):
    kwargs = redis_store.pool.connection_kwargs
    assert kwargs["socket_timeout"] == settings.LIVE_REDIS_SOCKET_TIMEOUT
    assert redis_store.pool.max_connections == settings.LIVE_REDIS_MAX_CONNECTIONS


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
async def test_hub_subscription_survives_idling_longer_than_5_seconds(
    redis_store, viewer, lecture, settings
):
    """redis-py 8 defaults to a 5 s socket timeout: a quiet room must not lose its feed."""
    settings.LIVE_VIEWERS_INTERVAL_SECONDS = 60
    cadre = await open_socket(viewer, lecture.pk)
    await asyncio.sleep(6.5)
    await asyncio.to_thread(broadcast.viewers, lecture_id=lecture.pk, count=42)
    counts = [(await cadre.until("viewers"))["count"]]
    while counts[-1] != 42:  # the first tick's own count may come first
        counts.append((await cadre.until("viewers"))["count"])
    assert len(counts) <= 2
    await cadre.close()


@pytest.mark.django_db(transaction=True)
async def test_consumers_on_redis_get_events_through_the_subscription(
    redis_store, viewer, moderator, lecture
):
    cadre = await open_socket(viewer, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    await cadre.send(
        {"type": "question.ask", "text": "数据安全怎么保障?", "anonymous": False, "client_id": "r1"}
    )
    q = (await cadre.until("question.accepted"))["question"]
    await mod.find("moderation.queue")
    await mod.send({"type": "question.moderate", "question_id": q["id"], "action": "approve"})
    published = await cadre.until("question.published")
    assert published["seq"] == 1
    ring = await asyncio.to_thread(redis_store.events_since, lecture_id=lecture.pk, last_seq=0)
    assert [json.loads(e)["type"] for e in ring] == ["question.published"]
    await cadre.close()
    await mod.close()


def test_viewers_by_unit_and_the_series_are_shared(redis_store, settings):
    redis_store.presence_set(lecture_id=1, process_id="a", count=3, by_unit={10: 2, 11: 1})
    redis_store.presence_set(lecture_id=1, process_id="b", count=2, by_unit={10: 2})
    assert redis_store.presence_by_unit(lecture_id=1) == {10: 4, 11: 1}
    redis_store.presence_set(lecture_id=1, process_id="a", count=0)  # a's sockets left
    assert redis_store.presence_by_unit(lecture_id=1) == {10: 2}
    # a process that died without saying goodbye stops counting after a few intervals
    stale = f"{time.time() - 5 * settings.LIVE_VIEWERS_INTERVAL_SECONDS - 10:.0f}"
    redis_store.client.hset(redis_store._k("presence", 1, "units"), "dead", stale + ':{"12": 9}')
    assert redis_store.presence_by_unit(lecture_id=1) == {10: 2}

    for i in range(SERIES_POINTS + 5):
        redis_store.series_add(lecture_id=1, at=1_000 + i, value=i)
    points = redis_store.series_get(lecture_id=1)
    assert len(points) == SERIES_POINTS  # the oldest are trimmed
    assert points[0] == (1_005, 5) and points[-1] == (1_000 + SERIES_POINTS + 4, SERIES_POINTS + 4)
    assert redis_store.series_get(lecture_id=2) == []


def test_revocations_are_shared_and_read_by_time(redis_store):
    import time

    before = time.time()
    redis_store.revoke(user_ids=[7])
    redis_store.revoke(user_ids=[9])
    assert redis_store.revoked_since(since=before - 1) == {7, 9}
    assert redis_store.revoked_since(since=time.time() + 1) == set()
    other = RedisStore(redis_store.url, redis_store.prefix)  # another process
    assert other.revoked_since(since=before - 1) == {7, 9}
