"""Two real daphne processes on one Redis: an event raised on either reaches the sockets on
both, published once; the frames written by the hub's direct path are valid websocket frames;
oversize frames get 1009; a foreign Origin is refused; a client that never reads is cut off
while the others carry on."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import Any

import pytest
import redis
import websockets
from django.test import Client as HttpClient
from websockets.asyncio.client import connect

from livestream.store import envelope_parse
from tests.livestream.servers import daphne, production_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.slow]


def cookie_for(user: Any) -> str:
    client = HttpClient()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def cookies(viewer, viewer2, moderator) -> dict[str, str]:
    return {
        "viewer": cookie_for(viewer),
        "viewer2": cookie_for(viewer2),
        "moderator": cookie_for(moderator),
    }


async def ws(port: int, lecture_id: int, cookie: str, origin: str | None = None) -> Any:
    return await connect(
        f"ws://127.0.0.1:{port}/ws/lectures/{lecture_id}/",
        additional_headers={
            "Cookie": f"sessionid={cookie}",
            "Origin": origin or f"http://127.0.0.1:{port}",
        },
        max_size=2**22,
    )


async def next_of(conn: Any, kind: str, timeout: float = 5) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(conn.recv(), timeout))
        if frame["type"] == kind:
            return frame


async def close_code(conn: Any) -> int | None:
    """Read (skipping frames) until the server closes; the code it sent."""
    try:
        while True:
            await asyncio.wait_for(conn.recv(), 5)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


@pytest.fixture
def servers(redis_url, tmp_path):
    prefix = f"zx2p:{uuid.uuid4().hex[:8]}:"
    env = production_env(redis_url=redis_url, prefix=prefix)
    with (
        daphne(env, log=tmp_path / "a.log") as port_a,
        daphne(env, log=tmp_path / "b.log") as port_b,
    ):
        yield port_a, port_b, prefix


async def test_event_on_one_process_reaches_sockets_on_both_published_once(
    servers, redis_url, cookies, lecture
):
    port_a, port_b, prefix = servers
    monitor = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    monitor.subscribe(f"{prefix}ev:{lecture.pk}")

    cadre_a = await ws(port_a, lecture.pk, cookies["viewer"])
    cadre_b = await ws(port_b, lecture.pk, cookies["viewer2"])
    mod_b = await ws(port_b, lecture.pk, cookies["moderator"])
    for conn in (cadre_a, cadre_b, mod_b):
        assert (await next_of(conn, "state"))["seq"] == 0

    # asked on process A, queued to the moderator on process B
    await cadre_a.send(
        json.dumps(
            {
                "type": "question.ask",
                "text": "基层如何用好大模型?",
                "anonymous": False,
                "client_id": "p1",
            }
        )
    )
    question = (await next_of(cadre_a, "question.accepted"))["question"]
    assert (await next_of(mod_b, "moderation.queue"))["question"]["id"] == question["id"]

    # approved on process B, published to sockets on A and B
    await mod_b.send(
        json.dumps(
            {"type": "question.moderate", "question_id": question["id"], "action": "approve"}
        )
    )
    for conn in (cadre_a, cadre_b, mod_b):
        published = await next_of(conn, "question.published")
        assert published["seq"] == 1
        assert published["question"]["text"] == "基层如何用好大模型?"

    # an event raised on A (a vote) reaches B; seq is shared by both processes
    await cadre_a.send(
        json.dumps({"type": "question.vote", "question_id": question["id"], "up": True})
    )
    votes = await next_of(cadre_b, "question.votes")
    assert votes["counts"] == {str(question["id"]): 1}
    assert votes["seq"] == 2

    seen = []
    for _n in range(40):
        message = monitor.get_message(timeout=0.1)
        if message:
            seen.append(envelope_parse(message["data"]))
    kinds = [json.loads(p)["type"] for _a, _s, p in seen]
    assert kinds.count("question.published") == 1  # one publish for two processes
    assert kinds.count("question.votes") == 1
    assert kinds.count("moderation.queue") == 2  # the new question, then its approval
    monitor.close()
    for conn in (cadre_a, cadre_b, mod_b):
        await conn.close()


async def test_real_server_limits_and_origin(servers, cookies, lecture):
    port_a, _port_b, _prefix = servers
    cookie = cookies["viewer"]
    conn = await ws(port_a, lecture.pk, cookie)
    await next_of(conn, "state")
    await conn.send(json.dumps({"type": "heartbeat", "playing": True, "pad": "x" * 5000}))
    assert await close_code(conn) == 1009

    with pytest.raises(websockets.InvalidStatus):
        await ws(port_a, lecture.pk, cookie, origin="https://evil.example.com")

    anon = await connect(
        f"ws://127.0.0.1:{port_a}/ws/lectures/{lecture.pk}/",
        additional_headers={"Origin": f"http://127.0.0.1:{port_a}"},
    )
    assert await close_code(anon) == 4401


async def test_client_that_never_reads_is_cut_off_and_others_carry_on(
    servers, redis_url, cookies, lecture
):
    port_a, _port_b, prefix = servers
    good = await ws(port_a, lecture.pk, cookies["viewer"])
    await next_of(good, "state")
    # A raw client with a tiny receive buffer that completes the handshake, then never reads.
    slow = socket.create_connection(("127.0.0.1", port_a))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    slow.sendall(
        (
            f"GET /ws/lectures/{lecture.pk}/ HTTP/1.1\r\nHost: 127.0.0.1:{port_a}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port_a}\r\n"
            f"Cookie: sessionid={cookies['viewer2']}\r\n\r\n"
        ).encode()
    )
    assert b" 101 " in slow.recv(1024)

    client = redis.Redis.from_url(redis_url)
    big = "字" * 20_000  # ~60 KB per event
    received = 0
    for n in range(60):
        payload = json.dumps({"type": "viewers", "count": n, "pad": big}, ensure_ascii=False)
        client.publish(f"{prefix}ev:{lecture.pk}", f"all 0\n{payload}".encode())
        while True:  # skip the server's own viewer counts
            frame = json.loads(await asyncio.wait_for(good.recv(), 5))
            if "pad" in frame:
                break
        assert frame["count"] == n
        received += 1
    assert received == 60  # the good client got every event, in order
    # the slow one was closed by the server (4408 queued behind its backlog, then dropped)
    slow.settimeout(5)
    closed = False
    try:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        while True:
            chunk = slow.recv(1 << 20)
            if not chunk:
                closed = True
                break
    except (ConnectionResetError, TimeoutError, OSError) as exc:
        closed = not isinstance(exc, TimeoutError)
    assert closed
    slow.close()
    await good.close()
