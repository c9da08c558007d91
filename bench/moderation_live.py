"""Moderation during a question flood (issue 19 §5): the moderators' console on the
production topology while every viewer of a live lecture asks one question.

Usage (from the project root)::

    .venv/bin/python bench/moderation_live.py [--cadres 2000] [--window 300]
        [--action-interval 0.5] [--web 2] [--pool 20] [--seed 1] [--idle 10]
        [--flood-frames N] [--no-pace] [--keep] [--json]

Steps: drop and re-create ``BENCH_MODLIVE_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_modlivebench``), migrate, seed (bulk rows, not
timed) a published programme with one lecture live now (started 5 minutes ago), ``--cadres``
cadres enrolled in it and two moderators (an organiser over the programme's organising
unit, and a user named as the lecture's moderator), one signed-in session each; start
``scripts/serve.sh`` (``make serve``: nginx → ``--web`` daphne processes → PgBouncer with a
pool of ``--pool`` → PostgreSQL, a Celery worker with beat, DEBUG off) on Redis databases
0–3 of a **private** ``redis-server`` started for the run (``BENCH_MODLIVE_REDIS_URL``,
e.g. ``redis://127.0.0.1:6379/12``, uses an existing server's databases N…N+3 instead:
test suites FLUSHDB the shared server's numbered databases). Then, from a **separate
client process** (asyncio, websocket frames parsed by hand, pings answered), every socket
through nginx:

* **askers**: ``--cadres`` sockets on ``/ws/lectures/<id>/`` (1,000 per source address,
  127.0.0.1, 127.0.0.2, …: nginx allows 2,000 connections per address), each until its
  ``state``; then each sends ONE ``question.ask`` at a moment drawn uniformly over
  ``--window`` seconds, with the texts of ``bench/moderation_flood.py``'s ``flood(n, seed)``
  (paraphrase groups the server clusters): ``question.accepted`` and ``error`` codes
  counted, the time from the ask to its ``question.accepted``;
* **two moderators** (from 127.0.0.250) keep the queue from their ``state.queue`` and the
  ``moderation.queue`` / ``moderation.claim`` events; every ``--action-interval`` seconds
  (the second moderator half an interval later) each takes the oldest pending question
  not claimed by the other and, keeping a 60/20/20 mix where it can: ``question.claim``
  then ``question.moderate`` approve, a reject with a reason, or ``question.merge`` into its
  ``cluster`` (when ``cluster != id`` and that target is neither rejected nor merged).
  One action at a time per moderator. **Ack latency** = from sending the frame to the
  event reflecting it on the same socket: for a claim the ``moderation.claim`` naming the
  question and this moderator; for approve / reject / merge the ``moderation.queue`` of
  the question with the status it asked for; an ``error`` answers too (``claimed``:
  another moderator held it, counted apart; others by code). No answer within 10 s is a
  timeout;
* **the console** (the first moderator's socket): ``moderation.queue`` events per second
  (1-s buckets over the flood: max, mean, p99) and the socket reads that carried them
  (new questions are flushed at most once per LIVE_QUEUE_INTERVAL_SECONDS per lecture);
  the time from a question's ``question.accepted`` at its asker (and from the ask) to its
  first ``moderation.queue`` at the console;
* **a console opened again** (the named moderator's page reloaded) at 25%, 50% and 75% of
  the window: a new socket until its ``state`` (time, bytes, queue length) or the close
  that refused it;
* **server CPU** over the flood (from the first ask until the last answers and flushes):
  the daphne processes, the whole ``make serve`` process group (nginx, daphne, PgBouncer,
  Celery), the PostgreSQL backends of the benchmark database, and the machine (/proc);
  per accepted question, and for daphne also net of the idle room (its CPU per second over
  ``--idle`` seconds with every socket open before the first ask: pings, presence, stats).

Pacing: the server closes a moderator's socket that sends more than
LIVE_FLOOD_FRAMES_MODERATOR (100; viewers: LIVE_FLOOD_FRAMES, 20) frames in
LIVE_FLOOD_WINDOW_SECONDS (10 s) with 4429, and a claim + approve is two frames: each
moderator therefore keeps to at most LIVE_FLOOD_FRAMES_MODERATOR − 1 frames per
window, waiting (before it picks a question) when it would exceed it; reported: the waits,
the actions per second reached. ``--no-pace`` sends at the requested rate regardless (a
closed moderator reconnects after 1 s; the closes are reported); ``--flood-frames N`` sets
the server's LIVE_FLOOD_FRAMES_MODERATOR for the run.

The server-side limits are the deployment's defaults (one question per user per 10 s, 20
per lecture). It stops by itself and drops its database and ``make serve``'s folder (its
logs) afterwards (unless ``--keep``).
Ends with one summary line (the row ``make bench`` shows; ``make bench`` runs it with
``--window 120``, scripts/bench.py); exit 1 if the run failed (an exception, the server
not healthy, a moderator not connected, fewer than 95% of the asks accepted), not when the
target (acknowledgement p99 ≤ 300 ms) is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/zhixing_modlivebench"
TARGET_P99 = 0.300
MIX = {"approve": 0.6, "reject": 0.2, "merge": 0.2}  # where a merge is possible
ASKERS_PER_ADDRESS = 1000  # nginx: limit_conn 2000 per address (deploy/nginx.conf)
MODERATOR_ADDRESS = "127.0.0.250"
ACK_TIMEOUT = 10.0
REOPEN_AT = (0.25, 0.5, 0.75)  # a console opened again at these shares of the window
REJECT_REASON = "与本讲主题无关，请会后通过学习群交流"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _support import (  # noqa: E402
    free_port,
    manage_py,
    recreate_database,
    serve_start,
    serve_stop,
    start_redis,
)
from discussion_fanout import (  # noqa: E402
    client_frame,
    cpu_seconds,
    daphne_pids_in_group,
    machine_busy,
)
from moderation_flood import flood  # noqa: E402

# ---------------------------------------------------------------------------------------
# the client process: askers and moderators on raw websockets
# ---------------------------------------------------------------------------------------

TextHandler = Callable[["RawSocket", bytes, float], None]


class RawSocket(asyncio.Protocol):
    """A client websocket, RFC 6455 frames parsed by hand (2,000 in one process): each text
    frame goes to ``on_text`` with its arrival time, except broadcasts (frames starting
    with ``{"seq":``, the store's prefix) when ``skip_broadcasts`` — those are only counted.
    Pings are answered; ``reads`` counts the socket reads (``data_received`` calls)."""

    def __init__(self, request: bytes, on_text: TextHandler, *, skip_broadcasts: bool) -> None:
        loop = asyncio.get_running_loop()
        self.request = request
        self.on_text = on_text
        self.skip_broadcasts = skip_broadcasts
        self.buf = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.status: asyncio.Future[int] = loop.create_future()  # the handshake's HTTP status
        self.lost: asyncio.Future[int] = loop.create_future()  # the close code (1006: none)
        self.close_code: int | None = None
        self.reads = 0
        self.broadcasts = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_result(0)
        if not self.lost.done():
            self.lost.set_result(self.close_code or 1006)

    @property
    def open(self) -> bool:
        return self.upgraded and not self.lost.done()

    def send(self, frame: dict[str, Any]) -> float:
        """Send one JSON frame; the time it was written."""
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("the socket is closed")
        self.transport.write(client_frame(json.dumps(frame, ensure_ascii=False).encode()))
        return time.monotonic()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        t = time.monotonic()
        self.reads += 1
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            try:
                code = int(buf[9:12])
            except ValueError:
                code = 0
            if code != 101:
                self.buf = b""
                if not self.status.done():
                    self.status.set_result(code)
                if self.transport is not None:
                    self.transport.close()
                return
            self.upgraded = True
            if not self.status.done():
                self.status.set_result(101)
            buf = buf[end + 4 :]
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1] & 0x7F
            if b1 < 126:
                head, length = 2, b1
            elif b1 == 126:
                if n - pos < 4:
                    break
                head, length = 4, int.from_bytes(buf[pos + 2 : pos + 4], "big")
            else:
                if n - pos < 10:
                    break
                head, length = 10, int.from_bytes(buf[pos + 2 : pos + 10], "big")
            end = pos + head + length
            if end > n:
                break
            op = b0 & 0x0F
            start = pos + head
            if op == 1:
                if self.skip_broadcasts and buf.startswith(b'{"seq":', start):
                    self.broadcasts += 1
                else:
                    self.on_text(self, buf[start:end], t)
            elif op == 9 and self.transport is not None:  # ping → masked pong (zero mask)
                payload = buf[start:end]
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif op == 8:
                self.close_code = int.from_bytes(buf[start : start + 2], "big") if length else 1005
                if self.transport is not None:
                    self.transport.close()
            pos = end
        self.buf = buf[pos:]


def _request(port: int, path: str, cookie: str) -> bytes:
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: http://127.0.0.1:{port}\r\n"
        f"Cookie: sessionid={cookie}\r\n\r\n"
    ).encode()


async def _open(
    *, port: int, path: str, cookie: str, source: str, on_text: TextHandler, skip: bool
) -> RawSocket:
    """Connect, upgrade; raises ``ConnectionError`` (with the HTTP status) if refused."""
    loop = asyncio.get_running_loop()
    sock = RawSocket(_request(port, path, cookie), on_text, skip_broadcasts=skip)
    await loop.create_connection(lambda: sock, "127.0.0.1", port, local_addr=(source, 0))
    status = await asyncio.wait_for(sock.status, 60)
    if status != 101:
        sock.abort()
        raise ConnectionError(f"HTTP {status}")
    return sock


async def _until_state(sock: RawSocket, ready: asyncio.Future[bool]) -> None:
    """Wait for the socket's ``state`` (``ready``); ``ConnectionError`` if it closes first."""
    waits: set[asyncio.Future[Any]] = {ready, sock.lost}
    await asyncio.wait(waits, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        sock.abort()
        code = sock.lost.result() if sock.lost.done() else "no state in 60 s"
        raise ConnectionError(f"closed {code}")


class Asker:
    __slots__ = (
        "accepted_at",
        "error",
        "index",
        "merged",
        "question_id",
        "ready",
        "rejected",
        "sent_at",
        "sock",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.sock: RawSocket | None = None
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.sent_at = 0.0
        self.accepted_at = 0.0
        self.question_id = 0
        self.error = ""
        self.rejected = False
        self.merged = False

    def on_text(self, sock: RawSocket, payload: bytes, t: float) -> None:
        frame = json.loads(payload)
        kind = frame.get("type")
        if kind == "state":
            if not self.ready.done():
                self.ready.set_result(True)
        elif kind == "question.accepted":
            if not self.accepted_at:
                self.accepted_at = t
                self.question_id = int(frame["question"]["id"])
        elif kind == "error":
            if self.sent_at and not self.accepted_at and not self.error:
                self.error = str(frame.get("code"))
                self.accepted_at = 0.0
        elif kind == "question.rejected":
            self.rejected = True
        elif kind == "question.merged":
            self.merged = True


@dataclass
class Waiting:
    kind: str
    question_id: int
    expect: str | None  # the moderation.queue status that acknowledges it (None: a claim)
    sent_at: float
    answer: asyncio.Future[tuple[float, str | None]]


def _epoch(iso_time: str | None) -> float:
    return datetime.fromisoformat(iso_time).timestamp() if iso_time else 0.0


@dataclass
class Moderator:
    name: str
    user_id: int
    cookie: str
    frames_max: int  # 0: no pacing
    frames_window: float
    sock: RawSocket | None = None
    ready: asyncio.Future[bool] | None = None
    items: dict[int, dict[str, Any]] = field(default_factory=dict)  # every question seen
    pending: set[int] = field(default_factory=set)
    claims: dict[int, tuple[int, float]] = field(default_factory=dict)  # id → holder, until
    skip: set[int] = field(default_factory=set)  # answered with an error: left alone
    waiting: Waiting | None = None
    acks: dict[str, list[float]] = field(default_factory=dict)  # kind → latencies (s)
    conflicts: dict[str, list[float]] = field(default_factory=dict)  # error "claimed", by kind
    errors: dict[str, list[float]] = field(default_factory=dict)  # "kind:code" → latencies
    timeouts: Counter[str] = field(default_factory=Counter)
    chosen: Counter[str] = field(default_factory=Counter)
    stray_errors: Counter[str] = field(default_factory=Counter)
    sent: deque[float] = field(default_factory=deque)
    pace_waits: int = 0
    pace_seconds: float = 0.0
    ticks: int = 0
    idle_ticks: int = 0
    late_ticks: int = 0
    closes: list[int] = field(default_factory=list)
    # the console's view: moderation.queue arrivals (time, read number) and first sightings
    queue_events: list[tuple[float, int, bool]] = field(default_factory=list)  # t, read, new
    generation: int = 0  # reconnects: socket reads are numbered per socket
    first_seen: dict[int, float] = field(default_factory=dict)

    # -- the socket ------------------------------------------------------------------------

    async def connect(self, port: int, path: str) -> None:
        self.ready = asyncio.get_running_loop().create_future()
        self.generation += 1
        self.sock = await _open(
            port=port,
            path=path,
            cookie=self.cookie,
            source=MODERATOR_ADDRESS,
            on_text=self.on_text,
            skip=False,
        )
        self.sock.lost.add_done_callback(self._lost)
        await _until_state(self.sock, self.ready)

    def _lost(self, lost: asyncio.Future[int]) -> None:
        self.closes.append(lost.result())
        w = self.waiting
        if w is not None and not w.answer.done():
            w.answer.set_result((time.monotonic(), "closed"))

    def _seen(self, q: dict[str, Any], t: float) -> None:
        qid = int(q["id"])
        self.items[qid] = q
        self.first_seen.setdefault(qid, t)
        if q.get("status") == "pending":
            self.pending.add(qid)
        else:
            self.pending.discard(qid)
        holder = q.get("claimed_by")
        if holder:
            self.claims[qid] = (int(holder["id"]), _epoch(q.get("claimed_until")))
        else:
            self.claims.pop(qid, None)

    def on_text(self, sock: RawSocket, payload: bytes, t: float) -> None:
        frame = json.loads(payload)
        kind = frame.get("type")
        w = self.waiting
        if kind == "moderation.queue":
            q = frame["question"]
            new = int(q["id"]) not in self.first_seen
            self.queue_events.append((t, self.generation * 10**9 + sock.reads, new))
            self._seen(q, t)
            if (
                w is not None
                and w.expect is not None
                and w.question_id == q["id"]
                and q.get("status") == w.expect
                and not w.answer.done()
            ):
                w.answer.set_result((t, None))
        elif kind == "moderation.claim":
            holder = frame.get("moderator")
            until = _epoch(frame.get("until"))
            ids = [int(i) for i in frame.get("question_ids") or ()]
            for qid in ids:
                if holder:
                    self.claims[qid] = (int(holder["id"]), until)
                else:
                    self.claims.pop(qid, None)
            if (
                w is not None
                and w.expect is None
                and w.question_id in ids
                and holder
                and int(holder["id"]) == self.user_id
                and not w.answer.done()
            ):
                w.answer.set_result((t, None))
        elif kind == "error":
            code = str(frame.get("code"))
            if w is not None and not w.answer.done():
                w.answer.set_result((t, code))
            else:
                self.stray_errors[code] += 1
        elif kind == "state":
            for q in frame.get("queue") or ():
                self._seen(q, t)
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(True)

    # -- working the queue -----------------------------------------------------------------

    def pick(self, other_id: int) -> dict[str, Any] | None:
        """The oldest pending question not claimed by the other moderator."""
        now = time.time()
        for qid in sorted(self.pending):
            if qid in self.skip:
                continue
            holder, until = self.claims.get(qid, (0, 0.0))
            if holder and holder != self.user_id and until > now:
                continue
            return self.items[qid]
        return None

    def choose(self, q: dict[str, Any]) -> str:
        """The action furthest below its share of MIX (a merge only where possible)."""
        cluster = int(q.get("cluster") or q["id"])
        target = self.items.get(cluster)
        mergeable = (
            cluster != q["id"]
            and target is not None
            and target.get("status") not in ("rejected", "merged")
        )
        total = sum(self.chosen.values()) + 1
        kinds = [k for k in MIX if k != "merge" or mergeable]
        best = max(kinds, key=lambda k: MIX[k] * total - self.chosen[k])
        self.chosen[best] += 1
        return best

    async def _pace(self) -> None:
        if self.frames_max <= 0:
            return
        while True:
            now = time.monotonic()
            while self.sent and self.sent[0] <= now - self.frames_window:
                self.sent.popleft()
            if len(self.sent) < self.frames_max:
                return
            wait = self.sent[0] + self.frames_window - now + 0.1
            self.pace_waits += 1
            self.pace_seconds += wait
            await asyncio.sleep(wait)

    async def act(self, kind: str, frame: dict[str, Any], qid: int, expect: str | None) -> str:
        """Send one action and wait for its acknowledgement: "" (done) or the error code
        ("timeout" when nothing answered within ACK_TIMEOUT, "closed" for a lost socket)."""
        await self._pace()
        sock = self.sock
        if sock is None or not sock.open:
            return "closed"
        answer: asyncio.Future[tuple[float, str | None]] = (
            asyncio.get_running_loop().create_future()
        )
        w = Waiting(kind, qid, expect, 0.0, answer)
        self.waiting = w
        try:
            w.sent_at = sock.send(frame)
        except ConnectionError:
            self.waiting = None
            return "closed"
        self.sent.append(w.sent_at)
        try:
            t, code = await asyncio.wait_for(answer, ACK_TIMEOUT)
        except TimeoutError:
            self.timeouts[kind] += 1
            return "timeout"
        finally:
            self.waiting = None
        latency = t - w.sent_at
        if code is None:
            self.acks.setdefault(kind, []).append(latency)
            return ""
        if code == "claimed":
            self.conflicts.setdefault(kind, []).append(latency)
        elif code != "closed":
            self.errors.setdefault(f"{kind}:{code}", []).append(latency)
        return code

    async def work(
        self, *, other_id: int, start: float, stop: float, interval: float, port: int, path: str
    ) -> None:
        tick = start
        while interval > 0 and tick < stop:  # 0: the moderators only watch
            now = time.monotonic()
            if tick > now:
                await asyncio.sleep(tick - now)
            elif now - tick > interval:  # an action took longer than the interval
                self.late_ticks += 1
                tick = now
            tick += interval
            if self.sock is None or not self.sock.open:
                await asyncio.sleep(1.0)  # the console reconnects (and gets a fresh state)
                try:
                    await self.connect(port, path)
                except (OSError, TimeoutError):
                    continue
            self.ticks += 1
            await self._pace()  # before picking: a question picked stays fresh
            q = self.pick(other_id)
            if q is None:
                self.idle_ticks += 1
                continue
            qid = int(q["id"])
            kind = self.choose(q)
            if kind == "approve":
                code = await self.act(
                    "claim", {"type": "question.claim", "question_id": qid}, qid, None
                )
                if not code:
                    code = await self.act(
                        "approve",
                        {"type": "question.moderate", "question_id": qid, "action": "approve"},
                        qid,
                        "approved",
                    )
            elif kind == "reject":
                code = await self.act(
                    "reject",
                    {
                        "type": "question.moderate",
                        "question_id": qid,
                        "action": "reject",
                        "reason": REJECT_REASON,
                    },
                    qid,
                    "rejected",
                )
            else:
                code = await self.act(
                    "merge",
                    {"type": "question.merge", "question_id": qid, "into_id": int(q["cluster"])},
                    qid,
                    "merged",
                )
            if code:
                self.skip.add(qid)


async def console_open(*, port: int, path: str, cookie: str, at: float) -> dict[str, Any]:
    """A moderator's console opened (or reloaded) at ``at`` into the flood: a new socket
    until its ``state`` (time, size, queue length) or the close that refused it."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[bool] = loop.create_future()
    got: dict[str, Any] = {"at_s": round(at, 1), "ok": False}
    t = time.monotonic()

    def on_text(sock: RawSocket, payload: bytes, t1: float) -> None:
        frame = json.loads(payload)
        if frame.get("type") == "state" and not ready.done():
            got.update(
                ms=round((t1 - t) * 1000, 1),
                bytes=len(payload),
                queue=len(frame.get("queue") or ()),
                questions=len(frame.get("questions") or ()),
            )
            ready.set_result(True)

    sock = None
    try:
        sock = await _open(
            port=port,
            path=path,
            cookie=cookie,
            source=MODERATOR_ADDRESS,
            on_text=on_text,
            skip=False,
        )
        await _until_state(sock, ready)
        got["ok"] = True
    except (OSError, TimeoutError) as exc:
        got["error"] = str(exc) or type(exc).__name__
        got["ms"] = round((time.monotonic() - t) * 1000, 1)
    finally:
        if sock is not None:
            sock.abort()
    return got


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def _stdin_line() -> dict[str, Any]:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if not line:
        raise SystemExit("the driver went away")
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def client_main() -> None:
    """The flood, driven by one config line on stdin; answers JSON lines on stdout."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    cfg = await _stdin_line()
    port, path = int(cfg["port"]), str(cfg["path"])
    window, interval = float(cfg["window"]), float(cfg["action_interval"])
    mods = [
        Moderator(
            name=m["name"],
            user_id=int(m["id"]),
            cookie=m["cookie"],
            frames_max=int(cfg["frames_max"]),
            frames_window=float(cfg["frames_window"]),
        )
        for m in cfg["moderators"]
    ]
    for m in mods:
        await m.connect(port, path)

    askers: list[Asker] = []
    refused: Counter[str] = Counter()
    gate = asyncio.Semaphore(int(cfg.get("concurrency", 64)))

    async def join(k: int, cookie: str) -> None:
        asker = Asker(k)
        source = f"127.0.0.{1 + k // ASKERS_PER_ADDRESS}"
        async with gate:
            try:
                asker.sock = await _open(
                    port=port,
                    path=path,
                    cookie=cookie,
                    source=source,
                    on_text=asker.on_text,
                    skip=True,
                )
                await _until_state(asker.sock, asker.ready)
            except (OSError, TimeoutError) as exc:
                refused[str(exc) or type(exc).__name__] += 1
                if asker.sock is not None:
                    asker.sock.abort()
                return
        askers.append(asker)

    t = time.monotonic()
    await asyncio.gather(*(join(k, c) for k, c in enumerate(cfg["askers"])))
    connect_s = time.monotonic() - t
    askers.sort(key=lambda a: a.index)
    _say(
        {
            "phase": "connected",
            "askers": len(askers),
            "refused": dict(refused),
            "seconds": connect_s,
        }
    )
    await asyncio.sleep(2.0)  # the connect's tail (presence, stats) settles
    await _stdin_line()  # "go": the driver has read the server's CPU
    texts = [q.text for q in flood(len(cfg["askers"]), int(cfg["seed"]))]
    rng = random.Random(int(cfg["seed"]))
    offsets = sorted(rng.uniform(0, window) for _ in askers)
    order = askers[:]
    rng.shuffle(order)
    run = uuid.uuid4().hex[:8]
    cpu0 = _cpu_self()
    t0 = time.monotonic()
    stop = t0 + window

    async def ask_all() -> None:
        for i, (offset, asker) in enumerate(zip(offsets, order, strict=True)):
            delay = t0 + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if asker.sock is None or not asker.sock.open:
                asker.error = "closed"
                continue
            asker.sent_at = asker.sock.send(
                {
                    "type": "question.ask",
                    "text": texts[i],
                    "anonymous": False,
                    "client_id": f"ml-{run}-{i}",
                }
            )

    workers = [
        asyncio.create_task(
            m.work(
                other_id=mods[1 - k].user_id if len(mods) > 1 else 0,
                start=t0 + k * interval / 2,
                stop=stop,
                interval=interval,
                port=port,
                path=path,
            )
        )
        for k, m in enumerate(mods)
    ]

    async def reopen(fraction: float) -> dict[str, Any]:
        await asyncio.sleep(max(0.0, t0 + window * fraction - time.monotonic()))
        return await console_open(
            port=port, path=path, cookie=mods[-1].cookie, at=time.monotonic() - t0
        )

    reopens = asyncio.gather(*(reopen(f) for f in REOPEN_AT))
    await ask_all()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
        a.sent_at and not a.accepted_at and not a.error for a in askers
    ):
        await asyncio.sleep(0.1)
    await asyncio.gather(*workers)
    await asyncio.sleep(float(cfg["queue_interval"]) + 1.5)  # the last coalesced flush
    t_end = time.monotonic()
    _say({"phase": "flood_end"})
    cpu_client = _cpu_self() - cpu0

    console = mods[0]
    events = [e for e in console.queue_events if e[0] >= t0]
    seconds = max(1, int(t_end - t0))
    buckets = [0] * (seconds + 1)
    new_buckets = [0] * (seconds + 1)
    for te, _read, new in events:
        buckets[min(seconds, int(te - t0))] += 1
        if new:
            new_buckets[min(seconds, int(te - t0))] += 1
    # the flushes: new questions' events arriving together (gaps under 100 ms)
    flushes, last = 0, -1.0
    for te, _read, new in events:
        if new:
            if te - last > 0.1:
                flushes += 1
            last = te
    accepted = [a for a in askers if a.accepted_at]
    to_console = [
        console.first_seen[a.question_id] - a.accepted_at
        for a in accepted
        if a.question_id in console.first_seen
    ]
    from_ask = [
        console.first_seen[a.question_id] - a.sent_at
        for a in accepted
        if a.question_id in console.first_seen
    ]
    closes = Counter(str(a.sock.lost.result()) for a in askers if a.sock and a.sock.lost.done())
    _say(
        {
            "phase": "result",
            "connect": {
                "askers": len(askers),
                "refused": dict(refused),
                "seconds": round(connect_s, 1),
            },
            "flood_seconds": round(t_end - t0, 1),
            "asks": {
                "planned": len(cfg["askers"]),
                "sent": sum(1 for a in askers if a.sent_at),
                "accepted": len(accepted),
                "errors": dict(Counter(a.error for a in askers if a.error)),
                "unanswered": sum(1 for a in askers if a.sent_at and not a.accepted_at),
                "round_trip": _dist([a.accepted_at - a.sent_at for a in accepted]),
                "told_rejected": sum(a.rejected for a in askers),
                "told_merged": sum(a.merged for a in askers),
                "broadcasts_read": sum(a.sock.broadcasts for a in askers if a.sock),
                "closed": dict(closes),
            },
            "moderators": [_moderator_report(m, t_end - t0) for m in mods],
            "console": {
                "events": len(events),
                "reads": len({r for _t, r, _new in events}),
                "per_second_max": max(buckets[:seconds]) if events else 0,
                "per_second_mean": round(len(events) / (t_end - t0), 2),
                "per_second_p99": _pct(sorted(buckets[:seconds]), 0.99),
                "new": sum(1 for e in events if e[2]),
                "new_per_second_max": max(new_buckets[:seconds]) if events else 0,
                "new_per_second_p99": _pct(sorted(new_buckets[:seconds]), 0.99),
                "flushes": flushes,
                "flushes_per_s": round(flushes / (t_end - t0), 2),
                "accepted_to_console": _dist(to_console),
                "ask_to_console": _dist(from_ask),
                "not_seen": sum(1 for a in accepted if a.question_id not in console.first_seen),
            },
            "console_reopens": await reopens,
            "client_cpu_s": round(cpu_client, 2),
        }
    )
    for a in askers:
        if a.sock is not None:
            a.sock.abort()
    for m in mods:
        if m.sock is not None:
            m.sock.abort()


def _moderator_report(m: Moderator, seconds: float) -> dict[str, Any]:
    """One moderator's figures, with the raw latencies (s) for the driver to merge."""
    done = sum(len(v) for k, v in m.acks.items() if k != "claim")
    return {
        "name": m.name,
        "acks": {k: [round(x, 5) for x in v] for k, v in m.acks.items()},
        "conflicts": {k: [round(x, 5) for x in v] for k, v in m.conflicts.items()},
        "errors": {k: [round(x, 5) for x in v] for k, v in m.errors.items()},
        "timeouts": dict(m.timeouts),
        "stray_errors": dict(m.stray_errors),
        "chosen": dict(m.chosen),
        "handled": done,
        "handled_per_s": round(done / max(seconds, 1e-9), 2),
        "ticks": m.ticks,
        "idle_ticks": m.idle_ticks,
        "late_ticks": m.late_ticks,
        "pace_waits": m.pace_waits,
        "pace_seconds": round(m.pace_seconds, 1),
        "closes": m.closes,
    }


def _pct(ordered: list[Any], q: float) -> Any:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _dist(values: list[float]) -> dict[str, Any]:
    """n and p50/p95/p99/max in milliseconds (None when empty)."""
    ordered = sorted(values)

    def ms(x: float | None) -> float | None:
        return None if x is None else round(x * 1000, 1)

    return {
        "n": len(ordered),
        "p50": ms(_pct(ordered, 0.5)),
        "p95": ms(_pct(ordered, 0.95)),
        "p99": ms(_pct(ordered, 0.99)),
        "max": ms(ordered[-1] if ordered else None),
    }


# ---------------------------------------------------------------------------------------
# the driver: database, make serve, the client process, CPU
# ---------------------------------------------------------------------------------------


@dataclass
class Seeded:
    lecture_id: int
    cookies: list[str]
    moderators: list[dict[str, Any]]


def seed(cadres: int) -> Seeded:
    """A published programme of a county with one lecture live now, ``cadres`` cadres of
    its townships enrolled, an organiser of the county and a named moderator; one signed-in
    session each (bulk rows)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from courses.models import Enrolment, Lecture, Programme
    from portal.models import OrgUnit, Role, User

    root = OrgUnit.add_root(name="浙江省", kind=OrgUnit.Kind.PROVINCE)
    city = root.add_child(name="杭州市", kind=OrgUnit.Kind.CITY)
    county = city.add_child(name="西湖区", kind=OrgUnit.Kind.COUNTY)
    towns = [
        county.add_child(name=name, kind=OrgUnit.Kind.TOWNSHIP)
        for name in ("灵隐街道", "北山街道", "西溪街道", "翠苑街道")
    ]
    programme = Programme.objects.create(
        title="人工智能专题培训(压测)", organiser_unit=county, is_published=True
    )
    programme.audience.set([county])
    now = timezone.now()
    lecture = Lecture.objects.create(
        programme=programme,
        sequence=1,
        title="第1讲 人工智能新浪潮",
        starts_at=now - timedelta(minutes=5),
        duration_minutes=180,
        stream_url="/demo/hls/live.m3u8",
    )
    password = make_password(None)
    users = User.objects.bulk_create(
        [
            User(
                username=f"modlive{i}",
                full_name=f"干部{i}",
                unit=towns[i % len(towns)],
                password=password,
            )
            for i in range(cadres)
        ],
        batch_size=2000,
    )
    Enrolment.objects.bulk_create(
        [Enrolment(user=u, programme=programme) for u in users], batch_size=5000
    )
    organiser = User.objects.create(
        username="modlive-org", full_name="区委组织部", unit=county, password=password
    )
    Role.objects.create(user=organiser, kind=Role.Kind.ORGANISER, unit=county)
    host = User.objects.create(
        username="modlive-host", full_name="主持人", unit=towns[0], password=password
    )
    lecture.moderators.add(host)

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    backend = settings.AUTHENTICATION_BACKENDS[0]
    expire = now + timedelta(hours=8)
    rows, keys = [], []
    for user in [*users, organiser, host]:
        key = secrets.token_hex(16)
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        keys.append(key)
    Session.objects.bulk_create(rows, batch_size=2000)
    moderators = [
        {"name": "organiser", "id": organiser.pk, "cookie": keys[-2]},
        {"name": "named", "id": host.pk, "cookie": keys[-1]},
    ]
    return Seeded(lecture.pk, keys[:cadres], moderators)


PAYLOAD_EXCEEDED = re.compile(
    r"^autobahn\.exception\.PayloadExceededError: tried to send WebSocket message with size "
    r"(\d+) exceeding payload limit of (\d+)",
    re.MULTILINE,
)


def server_log(path: Path) -> dict[str, Any]:
    """What ``make serve``'s log says went wrong: exceptions in the application (daphne
    closes the socket with 1011), and the sizes of messages autobahn refused to send."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {"exceptions": None}
    sizes = sorted({int(m[1]) for m in PAYLOAD_EXCEEDED.finditer(text)})
    limit = PAYLOAD_EXCEEDED.search(text)
    return {
        "exceptions": text.count("Exception inside application"),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "payload_exceeded": len(PAYLOAD_EXCEEDED.findall(text)),
        "payload_sizes": [sizes[0], sizes[-1]] if sizes else [],
        "payload_limit": int(limit[2]) if limit else None,
    }


def group_pids(pgid: int) -> list[int]:
    """Every process of a process group (from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def pg_backends(db_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the benchmark database."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    parts = urlsplit(db_url)
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [parts.path.lstrip("/")]
            )
            pids = [int(row[0]) for row in cur.fetchall()]
    finally:
        conn.close()
    return {pid: cpu_seconds([pid]) for pid in pids}


@dataclass
class CpuMark:
    daphne: float
    group: float
    pg: dict[int, float]
    busy: float
    total: float

    @classmethod
    def now(cls, pgid: int, db_url: str) -> CpuMark:
        busy, total = machine_busy()
        return cls(
            daphne=cpu_seconds(daphne_pids_in_group(pgid)),
            group=cpu_seconds(group_pids(pgid)),
            pg=pg_backends(db_url),
            busy=busy,
            total=total,
        )


class ClientProcess:
    """The client process (this file with ``--client``): JSON lines both ways."""

    def __init__(self, config: dict[str, Any]) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--client"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.send(config)

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()

    def read(self, phase: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the client process died before {phase!r}")
        msg: dict[str, Any] = json.loads(line)
        if msg.get("phase") != phase:
            raise RuntimeError(f"the client said {msg!r}, expected {phase!r}")
        return msg

    def close(self) -> None:
        try:
            self.proc.wait(30)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cadres", type=int, default=2000, help="askers, one question each")
    parser.add_argument("--window", type=float, default=300.0, help="seconds the asks spread over")
    parser.add_argument(
        "--action-interval", type=float, default=0.5, help="seconds; 0: moderators only watch"
    )
    parser.add_argument("--web", type=int, default=2, help="daphne processes")
    parser.add_argument("--pool", type=int, default=20, help="PgBouncer server connections")
    parser.add_argument("--seed", type=int, default=1, help="the flood's texts and timing")
    parser.add_argument(
        "--flood-frames",
        type=int,
        default=0,
        help="the server's LIVE_FLOOD_FRAMES_MODERATOR (frames per window per moderator)",
    )
    parser.add_argument("--no-pace", action="store_true", help="moderators ignore the flood limit")
    parser.add_argument(
        "--idle", type=float, default=10.0, help="seconds of the idle room measured first"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.cadres + 500:
        print(f"the fd limit ({hard}) is below {args.cadres + 500}", file=sys.stderr)
        return 1

    db_url = os.environ.get("BENCH_MODLIVE_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_MODLIVE_REDIS_URL", "")
    redis_proc, redis_dir = None, None
    if not redis_url:
        redis_proc, redis_base, redis_dir = start_redis(purpose="the moderation bench")
        redis_url = f"{redis_base}/0"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_ALLOW", "ZHIXING_"))},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "false",
        # plain http on loopback (no TLS in front): no redirect, cookies without Secure
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if args.flood_frames > 0:  # the moderators' limit (LIVE_FLOOD_FRAMES_MODERATOR)
        env["LIVE_FLOOD_FRAMES_MODERATOR"] = str(args.flood_frames)
    os.environ.update(env)
    try:
        return run(args, env, db_url=db_url, redis_url=redis_url)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
            shutil.rmtree(str(redis_dir), ignore_errors=True)
        else:
            import redis

            base, db = redis_url.rsplit("/", 1)
            for i in range(4):
                redis.Redis.from_url(f"{base}/{int(db) + i}").flushdb()


def run(args: Any, env: dict[str, str], *, db_url: str, redis_url: str) -> int:
    t = time.monotonic()
    recreate_database(db_url)
    if redis_url and "BENCH_MODLIVE_REDIS_URL" in os.environ:  # an existing server: fresh DBs
        import redis

        base, db = redis_url.rsplit("/", 1)
        for i in range(4):
            redis.Redis.from_url(f"{base}/{int(db) + i}").flushdb()
    done = manage_py(["migrate", "--noinput", "-v0"], env)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        return 1
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    seeded = seed(args.cadres)
    connection.close()
    flood_frames = int(settings.LIVE_FLOOD_FRAMES_MODERATOR)
    flood_window = float(settings.LIVE_FLOOD_WINDOW_SECONDS)
    queue_interval = float(settings.LIVE_QUEUE_INTERVAL_SECONDS)
    print(
        f"# database ready: {args.cadres} cadres enrolled, 2 moderators, sessions "
        f"({time.monotonic() - t:.1f} s)",
        flush=True,
    )

    served = None
    client = None
    log: dict[str, Any] = {}
    try:
        served = serve_start(
            env=env,
            prefix="zx-modlive",
            web=args.web,
            web_base_port=free_port(),
            DATABASE_POOL_SIZE=str(args.pool),
        )
        port = int(served.base.rsplit(":", 1)[1])
        pgid = served.process.pid
        client = ClientProcess(
            {
                "port": port,
                "path": f"/ws/lectures/{seeded.lecture_id}/",
                "askers": seeded.cookies,
                "moderators": seeded.moderators,
                "window": args.window,
                "action_interval": args.action_interval,
                "seed": args.seed,
                "frames_max": 0 if args.no_pace else flood_frames - 1,
                "frames_window": flood_window,
                "queue_interval": queue_interval,
            }
        )
        connected = client.read("connected")
        print(
            f"# {connected['askers']}/{args.cadres} askers connected in "
            f"{connected['seconds']:.1f} s; the flood: {args.window:.0f} s",
            flush=True,
        )
        time.sleep(2.0)  # the client lets the connects settle meanwhile
        idle0 = time.monotonic(), CpuMark.now(pgid, db_url)
        time.sleep(args.idle)  # the room with every socket open and nobody asking
        cpu0 = CpuMark.now(pgid, db_url)
        idle_s = time.monotonic() - idle0[0]
        client.send({"cmd": "go"})
        client.read("flood_end")
        cpu1 = CpuMark.now(pgid, db_url)
        result = client.read("result")
        client.close()
        client = None
        alive = served.process.poll() is None
    finally:
        if client is not None:
            client.proc.kill()
            client.proc.wait()
        if served is not None:
            serve_stop(served)
            log = server_log(served.folder / "serve.log")
            if args.keep:
                print(f"# kept: make serve's folder (logs) {served.folder}", flush=True)
            else:
                shutil.rmtree(served.folder, ignore_errors=True)
        if not args.keep:
            recreate_database(db_url)

    pg = sum(v - cpu0.pg.get(pid, 0.0) for pid, v in cpu1.pg.items())
    idle_rate = (cpu0.daphne - idle0[1].daphne) / max(idle_s, 1e-9)  # daphne CPU s per s
    daphne_net = cpu1.daphne - cpu0.daphne - idle_rate * result["flood_seconds"]
    asked = max(1, result["asks"]["accepted"])
    result.update(
        {
            "benchmark": "moderation_live",
            "cadres": args.cadres,
            "window": args.window,
            "action_interval": args.action_interval,
            "web": args.web,
            "pool": args.pool,
            "paced": not args.no_pace,
            "flood_frames": flood_frames,
            "flood_window": flood_window,
            "queue_interval": queue_interval,
            "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "cpu": {
                "daphne_s": round(cpu1.daphne - cpu0.daphne, 2),
                "serve_group_s": round(cpu1.group - cpu0.group, 2),
                "postgres_s": round(pg, 2),
                "daphne_ms_per_question": round((cpu1.daphne - cpu0.daphne) * 1000 / asked, 2),
                "daphne_idle_per_s": round(idle_rate, 4) if args.idle else None,
                "daphne_net_ms_per_question": round(daphne_net * 1000 / asked, 2)
                if args.idle
                else None,
                "group_ms_per_question": round((cpu1.group - cpu0.group) * 1000 / asked, 2),
                "postgres_ms_per_question": round(pg * 1000 / asked, 2),
                "machine_busy": round(
                    (cpu1.busy - cpu0.busy) / max(cpu1.total - cpu0.total, 1e-9), 3
                ),
            },
            "server_alive": alive,
            "server_log": log,
        }
    )
    summarise(result)
    report(result, as_json=args.json)
    return 1 if result["problems"] else 0


KINDS = ("claim", "approve", "reject", "merge")


def summarise(r: dict[str, Any]) -> None:
    """Both moderators' raw latencies merged into distributions (the raw lists dropped)."""
    mods = r["moderators"]
    r["acks"] = {k: _dist([x for m in mods for x in m["acks"].get(k, [])]) for k in KINDS}
    conflicts = [x for m in mods for v in m["conflicts"].values() for x in v]
    r["claimed"] = _dist(conflicts)
    r["claimed_by_kind"] = dict(
        Counter({k: len(v) for m in mods for k, v in m["conflicts"].items()})
    )
    errors: Counter[str] = Counter()
    for m in mods:
        for k, v in m["errors"].items():
            errors[k] += len(v)
    r["other_errors"] = dict(errors)
    every = [x for m in mods for v in m["acks"].values() for x in v] + conflicts
    every += [x for m in mods for v in m["errors"].values() for x in v]
    r["every_ack"] = _dist(every)
    r["timeouts"] = dict(sum((Counter(m["timeouts"]) for m in mods), Counter()))
    for m in mods:
        for key in ("acks", "conflicts", "errors"):
            m[key] = {k: len(v) for k, v in m[key].items()}
    problems = []
    a = r["asks"]
    if a["accepted"] < 0.95 * a["planned"]:
        problems.append(f"only {a['accepted']} of {a['planned']} asks accepted")
    if not r["server_alive"]:
        problems.append("make serve stopped during the run")
    r["problems"] = problems


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"


def report(r: dict[str, Any], *, as_json: bool) -> None:
    a, c, cpu = r["asks"], r["console"], r["cpu"]
    print()
    print(
        f"Moderation during a question flood: {r['cadres']} cadres asking once each over "
        f"{r['window']:.0f} s, 2 moderators "
        + (f"acting every {r['action_interval']} s" if r["action_interval"] > 0 else "watching")
        + f"; nginx → "
        f"{r['web']} daphne → PgBouncer (pool {r['pool']}), Celery (load {r['load']})"
    )
    con = r["connect"]
    print(
        f"connect: {con['askers']}/{r['cadres']} askers in {con['seconds']:.1f} s "
        f"({con['askers'] / max(con['seconds'], 1e-9):.0f}/s), refused {con['refused'] or 0}"
    )
    rt = a["round_trip"]
    print(
        f"asks: {a['sent']} sent, {a['accepted']} accepted, refused {a['errors'] or 0}, "
        f"unanswered {a['unanswered']}; ask → question.accepted p50 {_ms(rt['p50'])} / "
        f"p99 {_ms(rt['p99'])} / max {_ms(rt['max'])}"
    )
    head = f"{'acknowledgement':<34} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
    print(head)
    print("-" * len(head))
    rows = [
        ("claim → moderation.claim", r["acks"]["claim"]),
        ("approve → moderation.queue", r["acks"]["approve"]),
        ("reject → moderation.queue", r["acks"]["reject"]),
        ("merge → moderation.queue", r["acks"]["merge"]),
        ("error claimed (the other had it)", r["claimed"]),
        ("every acknowledgement", r["every_ack"]),
    ]
    for label, d in rows:
        print(
            f"{label:<34} {d['n']:>6} {_ms(d['p50']):>7} {_ms(d['p95']):>7} "
            f"{_ms(d['p99']):>7} {_ms(d['max']):>7}"
        )
    print(
        f"other errors {r['other_errors'] or 0}, claimed by action {r['claimed_by_kind'] or 0}, "
        f"no answer in {ACK_TIMEOUT:.0f} s {r['timeouts'] or 0}"
    )
    for m in r["moderators"]:
        print(
            f"moderator {m['name']}: {m['handled']} handled ({m['handled_per_s']}/s; "
            f"chosen {m['chosen']}), {m['ticks']} ticks ({m['idle_ticks']} idle, "
            f"{m['late_ticks']} late), paced {m['pace_waits']}× for {m['pace_seconds']} s, "
            f"closes {m['closes'] or 'none'}"
        )
    if r["paced"]:
        print(
            f"  (pacing: at most {r['flood_frames'] - 1} frames per {r['flood_window']:.0f} s "
            f"per moderator; the server closes a socket with 4429 above {r['flood_frames']})"
        )
    atc, ask = c["accepted_to_console"], c["ask_to_console"]
    print(
        f"console: {c['events']} moderation.queue events in {c['reads']} socket reads; per "
        f"second max {c['per_second_max']} / mean {c['per_second_mean']} / p99 "
        f"{c['per_second_p99']}; of them {c['new']} new questions in {c['flushes']} flushes "
        f"({c['flushes_per_s']}/s; LIVE_QUEUE_INTERVAL_SECONDS {r['queue_interval']:.1f}), "
        f"per second max {c['new_per_second_max']} / p99 {c['new_per_second_p99']}"
    )
    print(
        f"question.accepted → console p50 {_ms(atc['p50'])} / p99 {_ms(atc['p99'])} / max "
        f"{_ms(atc['max'])}; ask sent → console p50 {_ms(ask['p50'])} / p99 {_ms(ask['p99'])}"
        f"; never seen {c['not_seen']}"
    )
    reopens = r["console_reopens"]
    for o in reopens:
        what = (
            f"state in {o['ms']:.0f} ms, {o['bytes']} bytes ({o['queue']} queued, "
            f"{o['questions']} published)"
            if o["ok"]
            else f"REFUSED: {o['error']} after {o['ms']:.0f} ms"
        )
        print(f"console opened again at {o['at_s']:.0f} s: {what}")
    print(
        f"askers told: rejected {a['told_rejected']}, merged {a['told_merged']}; "
        f"broadcast frames read by askers {a['broadcasts_read']}; asker sockets closed "
        f"{a['closed'] or 'none'}"
    )
    print(
        f"CPU over the flood ({r['flood_seconds']} s): daphne {cpu['daphne_s']} s "
        f"({cpu['daphne_ms_per_question']} ms/question; the idle room "
        f"{cpu['daphne_idle_per_s']} s/s, net of it {cpu['daphne_net_ms_per_question']} "
        f"ms/question), make serve's group "
        f"{cpu['serve_group_s']} s ({cpu['group_ms_per_question']} ms/question), PostgreSQL "
        f"backends {cpu['postgres_s']} s ({cpu['postgres_ms_per_question']} ms/question), "
        f"client {r['client_cpu_s']} s; machine {cpu['machine_busy']:.0%} of "
        f"{os.cpu_count()} cores"
    )
    log = r["server_log"]
    if log.get("tracebacks") or log.get("exceptions"):
        sizes = log["payload_sizes"]
        print(
            f"server log: {log['exceptions']} exceptions inside the application, "
            f"{log['tracebacks']} tracebacks; {log['payload_exceeded']} messages over daphne's "
            f"{log['payload_limit']}-byte limit not sent"
            + (f" ({sizes[0]}–{sizes[-1]} bytes)" if sizes else "")
        )
    for p in r["problems"]:
        print(f"  ! {p}")
    if as_json:
        print(json.dumps(r, ensure_ascii=False))
    e = r["every_ack"]
    met = "n/a" if e["p99"] is None else "met" if e["p99"] <= TARGET_P99 * 1000 else "MISSED"
    kinds = ", ".join(f"{k} {_ms(r['acks'][k]['p99'])}" for k in KINDS if r["acks"][k]["n"])
    print(
        f"{a['accepted']}/{a['planned']} asks accepted over {r['window']:.0f} s "
        f"({sum(a['errors'].values())} refused); {e['n']} moderator acks p50 {_ms(e['p50'])} / "
        f"p99 {_ms(e['p99'])} ({kinds}; {r['claimed']['n']} claimed); console "
        f"{c['per_second_mean']} events/s (max {c['per_second_max']}), accepted→console p99 "
        f"{_ms(atc['p99'])}; console reopened {sum(o['ok'] for o in reopens)}/{len(reopens)}; "
        f"daphne {cpu['daphne_ms_per_question']} ms CPU/question; ack p99<=300ms {met}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        asyncio.run(client_main())
    else:
        sys.exit(main())
