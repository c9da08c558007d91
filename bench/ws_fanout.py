"""Live-room fan-out: one daphne process (the portal's ASGI app, production settings) vs a
bare ``websockets`` broadcast server, N sockets each, the same client (issue 3 §5).

Usage (from the project root)::

    .venv/bin/python bench/ws_fanout.py [--sockets 5000] [--events 20] [--burst 100]
        [--no-bare] [--keep-db]

Steps: drop and re-create ``BENCH_LIVE_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_livebench``), migrate, seed one programme and
one live lecture, N cadres in its audience and one signed-in session per cadre (bulk rows,
not timed); start daphne with DEBUG=false and the live store on ``BENCH_LIVE_REDIS_URL``
(default ``redis://127.0.0.1:6379/13``, a fresh key prefix per run); open N sockets from a
separate client process (raw asyncio, RFC 6455 frames parsed by hand, pings answered);
then

1. **latency**: ``--events`` events, one at a time, each through the app's own broadcast
   path (``livestream.broadcast.question_published`` → one Redis publish → the hub):
   the time until every socket has it, and the per-delivery latency;
2. **burst**: ``--burst`` events published back to back: delivered messages/s, and the
   server's CPU (utime+stime from /proc) per delivered message;
3. **memory**: the server's RSS growth per idle socket (from socket 100 to N, so the
   one-off imports of the first connections are not counted).

The same client then runs 1-3 against a bare ``websockets.broadcast`` server fed by a
Redis subscription with the same payloads, and the ratio is printed. Loopback only; stops
by itself. Ends with one summary line (the row ``make bench`` shows); exit 1 if a run
failed (sockets refused or lost, events missing), not when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import queue
import resource
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/zhixing_livebench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
MARK = b"zxbench!"
WARM = 100  # sockets opened before the RSS baseline
TICK = os.sysconf("SC_CLK_TCK")
sys.path.insert(0, str(ROOT))
from _support import free_port, recreate_database  # noqa: E402

# ---------------------------------------------------------------------------------------
# the client process: N raw websockets, counts the marked frames per socket
# ---------------------------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.socks: list[Sock] = []
        self.expected = 0
        self.remaining: list[int] = []
        self.arrivals: list[list[float]] = []
        self.closed_codes: dict[int, int] = {}
        self.out = sys.stdout

    def arm(self, events: int) -> None:
        alive = [s for s in self.socks if s.open]
        for s in alive:
            s.hits = 0
        self.expected = events
        self.remaining = [len(alive)] * events
        self.arrivals = [[] for _ in range(events)]

    def hit(self, sock: Sock) -> None:
        k = sock.hits
        sock.hits += 1
        if k >= self.expected:
            return
        self.arrivals[k].append(time.monotonic())
        self.remaining[k] -= 1
        if self.remaining[k] == 0:
            self.say({"done": k, "t": time.monotonic()})

    def lost(self, sock: Sock) -> None:
        for k in range(sock.hits, self.expected):
            self.remaining[k] -= 1
            if self.remaining[k] == 0:
                self.say({"done": k, "t": time.monotonic()})

    def say(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()


class Sock(asyncio.Protocol):
    def __init__(self, counter: Counter, request: bytes, ready: asyncio.Future[bool]) -> None:
        self.counter = counter
        self.request = request
        self.ready = ready
        self.buf = b""
        self.upgraded = False
        self.open = False
        self.hits = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(False)
        if self.open:
            self.open = False
            self.counter.lost(self)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.buf = b""
                if not self.ready.done():
                    self.ready.set_result(False)
                if self.transport is not None:
                    self.transport.close()
                return
            self.upgraded = True
            self.open = True
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
            if op == 1:
                if buf.find(MARK, pos + head, end) >= 0:
                    self.counter.hit(self)
                elif not self.ready.done():  # the first frame (state / hello): ready
                    self.ready.set_result(True)
            elif op == 9 and self.transport is not None:  # ping → masked pong
                payload = buf[pos + head : end]
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif op == 8:
                code = int.from_bytes(buf[pos + head : pos + head + 2], "big") if length else 0
                self.counter.closed_codes[code] = self.counter.closed_codes.get(code, 0) + 1
            pos = end
        self.buf = buf[pos:]


async def client_main() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    loop = asyncio.get_running_loop()
    counter = Counter()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["cmd"] == "connect":
            started = time.monotonic()
            sem = asyncio.Semaphore(cmd.get("concurrency", 64))

            async def one(
                path: str,
                cookie: str | None,
                cmd: dict[str, Any] = cmd,
                sem: asyncio.Semaphore = sem,
            ) -> bool:
                key = base64.b64encode(secrets.token_bytes(16)).decode()
                headers = (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{cmd['port']}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                    f"Origin: http://127.0.0.1:{cmd['port']}\r\n"
                )
                if cookie:
                    headers += f"Cookie: sessionid={cookie}\r\n"
                async with sem:
                    ready: asyncio.Future[bool] = loop.create_future()
                    try:
                        _t, proto = await loop.create_connection(
                            lambda: Sock(counter, (headers + "\r\n").encode(), ready),
                            "127.0.0.1",
                            cmd["port"],
                        )
                        ok = await asyncio.wait_for(ready, 60)
                    except (OSError, TimeoutError):
                        return False
                    if ok:
                        counter.socks.append(proto)
                    return ok

            cookies = cmd["cookies"] or [None] * cmd["n"]
            results = await asyncio.gather(*(one(cmd["path"], c) for c in cookies[: cmd["n"]]))
            counter.say(
                {
                    "connected": sum(results),
                    "failed": len(results) - sum(results),
                    "seconds": time.monotonic() - started,
                }
            )
        elif cmd["cmd"] == "arm":
            counter.arm(cmd["events"])
            counter.say({"armed": counter.remaining[0] if counter.remaining else 0})
        elif cmd["cmd"] == "report":
            t0 = cmd["t0"]
            lat: list[float] = []
            for k, start in enumerate(t0):
                lat.extend(t - start for t in counter.arrivals[k])
            counter.say(
                {
                    "latencies": sorted(lat),
                    "delivered": sum(len(a) for a in counter.arrivals),
                    "last": max((max(a) for a in counter.arrivals if a), default=0.0),
                    "open": sum(1 for s in counter.socks if s.open),
                    "closed_codes": counter.closed_codes,
                }
            )
        elif cmd["cmd"] == "quit":
            break
    for s in counter.socks:
        if s.transport is not None:
            s.transport.abort()


# ---------------------------------------------------------------------------------------
# the bare server: websockets.broadcast, fed by a Redis subscription
# ---------------------------------------------------------------------------------------


async def bare_main(port: int, redis_url: str, channel: str) -> None:
    import redis.asyncio as aioredis
    from websockets.asyncio.server import broadcast, serve

    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    conns: set[Any] = set()

    async def handler(ws: Any) -> None:
        conns.add(ws)
        try:
            await ws.send('{"type":"hello"}')
            await ws.wait_closed()
        finally:
            conns.discard(ws)

    client = aioredis.Redis.from_url(redis_url, socket_timeout=None)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    async with serve(handler, "127.0.0.1", port, backlog=4096, compression=None):
        print("READY", flush=True)
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message and message["type"] == "message":
                broadcast(conns, message["data"].decode())


# ---------------------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_port(port: int, proc: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


def seed(n: int) -> tuple[int, list[str]]:
    """One programme, one live lecture, n cadres in its audience, one session each."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from courses.models import Lecture, Programme
    from portal.models import OrgUnit, User

    root = OrgUnit.add_root(name="浙江省", kind=OrgUnit.Kind.PROVINCE, code="bench")
    programme = Programme.objects.create(title="人工智能专题培训(压测)", organiser_unit=root)
    programme.audience.set([root])
    now = timezone.now()
    lecture = Lecture.objects.create(
        programme=programme,
        sequence=1,
        title="第1讲 人工智能新浪潮",
        starts_at=now - timedelta(minutes=10),
        duration_minutes=600,
        stream_url="/demo/hls/live.m3u8",
    )
    password = make_password(None)
    users = User.objects.bulk_create(
        [
            User(username=f"bench{i}", full_name=f"干部{i}", unit=root, password=password)
            for i in range(n)
        ],
        batch_size=2000,
    )
    backend = "portal.auth_backends.PhoneOrUsernameBackend"
    store = SessionStore()
    expire = now + timedelta(hours=8)
    rows, keys = [], []
    for user in users:
        key = secrets.token_hex(16)
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        keys.append(key)
    Session.objects.bulk_create(rows, batch_size=2000)
    return lecture.pk, keys


@dataclass
class Result:
    name: str
    sockets: int = 0
    connect_s: float = 0.0
    all_p50: float = 0.0
    all_p99: float = 0.0
    all_max: float = 0.0
    one_p50: float = 0.0
    one_p99: float = 0.0
    one_max: float = 0.0
    rate: float = 0.0
    cpu_us: float = 0.0
    cpu_single_us: float = 0.0
    rss_kib: float = 0.0
    problems: list[str] = field(default_factory=list)


class Client:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--client"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def _next(self, timeout: float) -> dict[str, Any] | None:
        try:
            msg = self.lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if msg is None:
            raise RuntimeError("the client process died")
        return msg

    def read(self, timeout: float = 300) -> dict[str, Any]:
        """The next answer to a command (completion notices are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self._next(deadline - time.monotonic())
            if msg is None:
                raise RuntimeError("the client did not answer")
            if "done" not in msg:
                return msg

    def wait_done(self, k: int, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while True:
            msg = self._next(deadline - time.monotonic())
            if msg is None:
                return None
            if msg.get("done") == k:
                return float(msg["t"])

    def close(self) -> None:
        try:
            self.send({"cmd": "quit"})
            self.proc.wait(20)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def measure(
    name: str,
    *,
    port: int,
    pid: int,
    path: str,
    cookies: list[str] | None,
    n: int,
    events: int,
    burst: int,
    publish: Any,
) -> Result:
    res = Result(name)
    client = Client()
    try:
        warm = min(WARM, n)
        started = time.monotonic()
        client.send(
            {
                "cmd": "connect",
                "port": port,
                "path": path,
                "n": warm,
                "cookies": cookies[:warm] if cookies else None,
            }
        )
        first = client.read()
        time.sleep(1.0)
        rss0 = rss_kib(pid)
        client.send(
            {
                "cmd": "connect",
                "port": port,
                "path": path,
                "n": n - warm,
                "cookies": cookies[warm:n] if cookies else None,
            }
        )
        rest = client.read() if n > warm else {"connected": 0, "failed": 0}
        res.connect_s = time.monotonic() - started
        res.sockets = first["connected"] + rest["connected"]
        if first["failed"] or rest["failed"]:
            res.problems.append(f"{first['failed'] + rest['failed']} sockets refused")
        time.sleep(2.0)
        rss1 = rss_kib(pid)
        res.rss_kib = (rss1 - rss0) / max(1, rest["connected"])

        # 1. latency: one event at a time
        client.send({"cmd": "arm", "events": events})
        client.read()
        t0s: list[float] = []
        alls: list[float] = []
        cpu_single = cpu_seconds(pid)
        for k in range(events):
            t0 = time.monotonic()
            publish(k)
            t0s.append(t0)
            done = client.wait_done(k, 60)
            if done is None:
                res.problems.append(f"event {k} did not reach every socket")
                break
            alls.append(done - t0)
            time.sleep(0.05)
        cpu_single = cpu_seconds(pid) - cpu_single
        client.send({"cmd": "report", "t0": t0s})
        rep = client.read()
        lat = rep["latencies"]
        res.cpu_single_us = cpu_single * 1e6 / max(1, rep["delivered"])
        alls.sort()
        res.all_p50, res.all_p99, res.all_max = pct(alls, 0.5), pct(alls, 0.99), max(alls or [0])
        res.one_p50, res.one_p99, res.one_max = pct(lat, 0.5), pct(lat, 0.99), max(lat or [0])

        # 2. burst: back to back
        time.sleep(0.5)
        client.send({"cmd": "arm", "events": burst})
        armed = client.read()["armed"]
        cpu0 = cpu_seconds(pid)
        t0 = time.monotonic()
        for k in range(burst):
            publish(events + k)
        done = client.wait_done(burst - 1, 120)
        cpu1 = cpu_seconds(pid)
        client.send({"cmd": "report", "t0": [t0] * burst})
        rep = client.read()
        if done is None:
            res.problems.append("the burst did not reach every socket")
        delivered = rep["delivered"]
        elapsed = (rep["last"] - t0) if rep["last"] else float("nan")
        res.rate = delivered / elapsed if elapsed > 0 else 0.0
        res.cpu_us = (cpu1 - cpu0) * 1e6 / max(1, delivered)
        if delivered < armed * burst:
            res.problems.append(f"burst delivered {delivered}/{armed * burst}")
        if rep["closed_codes"]:
            res.problems.append(f"server closes {rep['closed_codes']}")
    finally:
        client.close()
    return res


def question(k: int) -> dict[str, Any]:
    return {
        "id": 100000 + k,
        "text": f"{MARK.decode()} 基层干部如何用好大模型处理群众来信?#{k}",
        "author": "干部甲",
        "unit": "浙江省",
        "anonymous": False,
        "votes": 0,
        "status": "approved",
        "highlighted": False,
        "answered": False,
        "created_at": "2025-01-01T10:00:00+08:00",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--no-bare", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = args.sockets

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < n + 500:
        print(f"the fd limit ({hard}) is below {n + 500}", file=sys.stderr)
        return 1

    db_url = os.environ.get("BENCH_LIVE_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_LIVE_REDIS_URL", DEFAULT_REDIS)
    prefix = f"zxbench:{uuid.uuid4().hex[:8]}:"
    secret = secrets.token_urlsafe(40)
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": secret,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "LIVE_REDIS_URL": redis_url,
        "LIVE_REDIS_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)

    t = time.monotonic()
    recreate_database(db_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    lecture_id, cookies = seed(n)
    from django.db import connection

    connection.close()
    print(f"# database ready: {n} cadres with sessions ({time.monotonic() - t:.1f} s)", flush=True)

    import redis

    from livestream import broadcast

    results: list[Result] = []
    procs: list[subprocess.Popen[Any]] = []

    def stop(proc: subprocess.Popen[Any]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    try:
        # -- the portal under daphne --------------------------------------------------
        port = free_port()
        log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"ws_fanout_daphne_{port}.log", "wb")
        daphne = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "--websocket-max-message-size",
                "65536",
                "--websocket-max-frame-size",
                "65536",
                "--application-close-timeout",
                "5",
                "portal.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(daphne)
        wait_port(port, daphne, "daphne")

        def publish_app(k: int) -> None:
            broadcast.question_published(lecture_id=lecture_id, question=question(k))  # type: ignore[arg-type]

        results.append(
            measure(
                "portal on daphne (hub)",
                port=port,
                pid=daphne.pid,
                path=f"/ws/lectures/{lecture_id}/",
                cookies=cookies,
                n=n,
                events=args.events,
                burst=args.burst,
                publish=publish_app,
            )
        )
        stop(daphne)

        # -- the bare websockets server -----------------------------------------------
        if not args.no_bare:
            port = free_port()
            channel = f"{prefix}bare"
            bare = subprocess.Popen(
                [sys.executable, __file__, "--bare", str(port), redis_url, channel],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(bare)
            assert bare.stdout is not None
            bare.stdout.readline()
            rclient = redis.Redis.from_url(redis_url)
            seq = iter(range(1, 10**6))

            def publish_bare(k: int) -> None:
                body = broadcast.encode({"type": "question.published", "question": question(k)})
                rclient.publish(channel, f'{{"seq":{next(seq)},{body[1:]}')

            results.append(
                measure(
                    "bare websockets.broadcast",
                    port=port,
                    pid=bare.pid,
                    path="/",
                    cookies=None,
                    n=n,
                    events=args.events,
                    burst=args.burst,
                    publish=publish_bare,
                )
            )
            stop(bare)
    finally:
        for proc in procs:
            stop(proc)
        rc = redis.Redis.from_url(redis_url)
        for key in rc.scan_iter(f"{prefix}*"):
            rc.delete(key)
        if not args.keep_db:
            recreate_database(db_url)  # leave an empty database, not 5000 sessions

    report(results, n, args)
    return 1 if any(r.problems for r in results) else 0


def report(results: list[Result], n: int, args: Any) -> None:
    print()
    print(f"Live fan-out, {n} sockets, {args.events} single events, burst of {args.burst}")
    head = (
        f"{'server':<28} {'sockets':>7} {'all p50':>8} {'all p99':>8} {'all max':>8} "
        f"{'one p99':>8} {'µs/msg 1':>8} {'burst msg/s':>11} {'µs/msg B':>8} {'KiB/conn':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.name:<28} {r.sockets:>7} {r.all_p50 * 1000:>6.0f}ms {r.all_p99 * 1000:>6.0f}ms "
            f"{r.all_max * 1000:>6.0f}ms {r.one_p99 * 1000:>6.0f}ms {r.cpu_single_us:>8.1f} "
            f"{r.rate:>11.0f} {r.cpu_us:>8.1f} {r.rss_kib:>8.1f}"
        )
        for p in r.problems:
            print(f"  ! {r.name}: {p}")
    print(
        "(all = until every socket has the event, over the single events; one = per delivery;"
        " µs/msg 1 / B = server CPU per delivered message, single events / burst;"
        " KiB/conn = RSS growth per idle socket)"
    )
    app = results[0]
    ratio = app.rate / results[1].rate if len(results) > 1 and results[1].rate else float("nan")
    targets = {
        "p99<=300ms": app.all_p99 <= 0.3,
        "ratio>=0.5": ratio >= 0.5,
        "rss<=40KiB": app.rss_kib <= 40,
    }
    met = ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in targets.items())
    if args.json:
        print(json.dumps({"results": [r.__dict__ for r in results], "ratio": ratio}))
    print(
        f"{n} sockets: all-reached p99 {app.all_p99 * 1000:.0f} ms, {app.rate:,.0f} msg/s "
        f"({ratio:.2f}x bare), {app.cpu_single_us:.1f}/{app.cpu_us:.1f} µs CPU/msg "
        f"(single/burst), {app.rss_kib:.1f} KiB/conn; {met}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        asyncio.run(client_main())
    elif len(sys.argv) > 1 and sys.argv[1] == "--bare":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        asyncio.run(bare_main(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    else:
        sys.exit(main())
