"""Discussion fan-out (issue 16): one post in a study group (or an ended lecture's space)
reaching every open page, from the write's commit to each page's socket.

Usage (from the project root)::

    .venv/bin/python bench/discussion_fanout.py [--kind group|lecture] [--members 5000]
        [--pages 2000] [--posts 20] [--processes 2] [--topology direct|serve]
        [--via service|api] [--gap 0.2] [--keep-db] [--json]

Steps: drop and re-create ``BENCH_DISC_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_discbench``), migrate, seed (bulk rows, not
timed) a programme with an ended lecture and ``--members`` cadres of one township, each
with a signed-in session, and either a study group of the township with all of them as
members and the lecture's thread (``--kind group``, the default) or the lecture's
discussion space with all of them enrolled and one topic thread (``--kind lecture``);
start the portal with DEBUG=false, Redis (``REDIS_URL``: broker, channel layer,
cache/sessions; the live store with a fresh key prefix) on a **private** ``redis-server``
started for the run (the shared server's numbered databases are FLUSHDB'd by test suites
running meanwhile, which resets the space's seq mid-run); ``BENCH_DISC_REDIS_URL`` (e.g.
``redis://127.0.0.1:6379/13``) uses an existing server instead:

* ``--topology direct`` (default): ``--processes`` daphne processes started here with the
  flags of ``scripts/serve.sh``, straight to PostgreSQL; the pages are split over them
  round-robin;
* ``--topology serve``: ``scripts/serve.sh`` (``make serve``: nginx → ``--processes``
  daphne → PgBouncer, Celery worker + beat), every page through nginx.

Then ``--pages`` sockets are opened from a **separate client process** (raw asyncio, RFC
6455 frames parsed by hand, pings answered), each with its own member's session cookie;
each sends ``hello{last_seq}`` with the seq a page rendered now would carry, then one
unknown frame whose ``error`` answer (frames are handled in order) says its hello has
been answered (the socket is in the hub, not held); connect time = until then. Then
``--posts`` posts, one at a time, each by another member (the posting limits are per
person), through the app's real write path:

* ``--via service`` (default): ``discussion.services.post_create`` in this process (Django
  set up on the same database and Redis; the access from ``space_access_get``); the clock
  starts when the write's COMMIT returns (the database wrapper's ``_commit`` is timed;
  the on-commit broadcast runs right after it);
* ``--via api``: ``POST /api/discussion/threads/<id>/posts/`` with the author's session
  and CSRF token (taken from the thread page, fetched beforehand); the clock starts when
  the request is sent (so it also holds the HTTP write path; the commit is inside it).

Measured: per delivery (socket × post) the latency from the clock's start to the frame's
arrival; p50/p95/p99/max over all, the first post on its own, the time until every socket
had each post, the first socket of each post (the path without the fan-out), missing
deliveries (and gaps/duplicates in the sockets' seqs), the connect time of the pages, the
daphne processes' and the client's CPU per delivery, and how busy the machine was during
the posts (/proc/stat). One client process reads every socket (~25-30 µs of its CPU per
frame), so the last socket's arrival is at least pages × that after the first: the
figures are an upper bound, as in ``bench/ws_fanout.py`` (same client). Loopback only; it stops by
itself and empties its database afterwards (unless ``--keep-db``). Ends with one summary
line (the row ``make bench`` shows); exit 1 if the run failed (sockets refused or lost,
deliveries missing), not when the target (p99 ≤ 300 ms) is missed.
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
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/zhixing_discbench"
POST_CREATED = b'"type":"post.created"'
TICK = os.sysconf("SC_CLK_TCK")
TARGET_P99 = 0.300
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

# ---------------------------------------------------------------------------------------
# the client process: N raw websockets, the post.created frames' arrival per seq
# ---------------------------------------------------------------------------------------


def client_frame(text: bytes) -> bytes:
    """One masked, final text frame (a client must mask, RFC 6455 §5.3)."""
    mask = secrets.token_bytes(4)
    n = len(text)
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    else:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    body = bytes(b ^ mask[i & 3] for i, b in enumerate(text))
    return head + mask + body


class Counter:
    def __init__(self) -> None:
        self.socks: list[Sock] = []
        self.arrivals: dict[int, list[float]] = {}
        self.announced: set[int] = set()
        self.gaps = 0
        self.duplicates = 0
        self.closed_codes: dict[int, int] = {}
        self.lost_after_ready = 0
        self.alive = 0  # ready sockets still open
        self.out = sys.stdout

    def hit(self, sock: Sock, seq: int) -> None:
        if seq <= sock.last_seq:
            self.duplicates += 1
            return
        if seq != sock.last_seq + 1:
            self.gaps += seq - sock.last_seq - 1
        sock.last_seq = seq
        times = self.arrivals.setdefault(seq, [])
        times.append(time.monotonic())
        self.check(seq)

    def check(self, seq: int) -> None:
        if seq not in self.announced and len(self.arrivals.get(seq, ())) >= self.alive:
            self.announced.add(seq)
            self.say({"done": seq, "t": time.monotonic()})

    def lost(self, sock: Sock) -> None:
        self.lost_after_ready += 1
        self.alive -= 1
        for seq in list(self.arrivals):
            self.check(seq)

    def say(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()


class Sock(asyncio.Protocol):
    __slots__ = (
        "buf",
        "counter",
        "hello",
        "last_seq",
        "open",
        "ready",
        "request",
        "transport",
        "upgraded",
    )

    def __init__(
        self,
        counter: Counter,
        request: bytes,
        hello: bytes,
        last_seq: int,
        ready: asyncio.Future[bool],
    ) -> None:
        self.counter = counter
        self.request = request
        self.hello = hello
        self.ready = ready
        self.last_seq = last_seq
        self.buf = b""
        self.upgraded = False
        self.open = False
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
            buf = buf[end + 4 :]
            if self.transport is not None:  # the page's hello, then the probe
                self.transport.write(self.hello)
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
                # broadcasts start with {"seq":N, (the store's Lua script prepends it)
                if (
                    buf.startswith(b'{"seq":', start)
                    and buf.find(POST_CREATED, start, start + 80) > 0
                ):
                    comma = buf.find(b",", start + 7, end)
                    self.counter.hit(self, int(buf[start + 7 : comma]))
                elif not self.ready.done() and buf.find(b'"type":"error"', start, end) >= 0:
                    self.open = True  # the probe's answer: the hello was handled
                    self.counter.alive += 1
                    self.ready.set_result(True)
            elif op == 9 and self.transport is not None:  # ping → masked pong
                payload = buf[start:end]
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif op == 8:
                code = int.from_bytes(buf[start : start + 2], "big") if length else 0
                self.counter.closed_codes[code] = self.counter.closed_codes.get(code, 0) + 1
            pos = end
        self.buf = buf[pos:]


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def client_main() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    loop = asyncio.get_running_loop()
    counter = Counter()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cpu_mark = _cpu_self()
    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["cmd"] == "connect":
            started = time.monotonic()
            sem = asyncio.Semaphore(cmd.get("concurrency", 64))
            last_seq = int(cmd["last_seq"])
            hello = client_frame(
                json.dumps({"type": "hello", "last_seq": last_seq}).encode()
            ) + client_frame(b'{"type":"bench.probe"}')
            waits: list[float] = []

            async def one(
                port: int,
                cookie: str,
                path: str = cmd["path"],
                sem: asyncio.Semaphore = sem,
                hello: bytes = hello,
                last_seq: int = last_seq,
                waits: list[float] = waits,
            ) -> bool:
                key = base64.b64encode(secrets.token_bytes(16)).decode()
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                    f"Origin: http://127.0.0.1:{port}\r\n"
                    f"Cookie: sessionid={cookie}\r\n\r\n"
                ).encode()
                async with sem:
                    t = time.monotonic()
                    ready: asyncio.Future[bool] = loop.create_future()
                    proto = Sock(counter, request, hello, last_seq, ready)
                    try:
                        await loop.create_connection(lambda: proto, "127.0.0.1", port)
                        ok = await asyncio.wait_for(ready, 60)
                    except (OSError, TimeoutError):
                        ok = False
                    if ok:
                        counter.socks.append(proto)
                        waits.append(time.monotonic() - t)
                    elif proto.transport is not None:
                        proto.transport.abort()
                    return ok

            results = await asyncio.gather(*(one(p, c) for p, c in cmd["targets"]))
            waits.sort()
            counter.say(
                {
                    "connected": sum(results),
                    "failed": len(results) - sum(results),
                    "seconds": time.monotonic() - started,
                    "each_p50": waits[len(waits) // 2] if waits else 0.0,
                    "each_p99": waits[min(len(waits) - 1, int(0.99 * len(waits)))]
                    if waits
                    else 0.0,
                    "closed_codes": dict(counter.closed_codes),
                }
            )
            cpu_mark = _cpu_self()
        elif cmd["cmd"] == "report":
            # t0: {seq: the clock's start for that post}
            lat: dict[str, list[float]] = {}
            for seq_s, start in cmd["t0"].items():
                lat[seq_s] = sorted(t - start for t in counter.arrivals.get(int(seq_s), []))
            counter.say(
                {
                    "latencies": lat,
                    "alive": counter.alive,
                    "gaps": counter.gaps,
                    "duplicates": counter.duplicates,
                    "lost": counter.lost_after_ready,
                    "closed_codes": {str(k): v for k, v in counter.closed_codes.items()},
                    "cpu_s": _cpu_self() - cpu_mark,
                }
            )
        elif cmd["cmd"] == "quit":
            break
    for s in counter.socks:
        if s.transport is not None:
            s.transport.abort()


# ---------------------------------------------------------------------------------------
# the driver: database, servers, posts
# ---------------------------------------------------------------------------------------


@dataclass
class Seeded:
    space_id: int
    thread_id: int
    user_ids: list[int]
    cookies: list[str]


def seed(kind: str, members: int) -> Seeded:
    """A township's cadres with one signed-in session each, a programme with an ended
    lecture, and the space: the township's study group (every cadre a member, the
    lecture's thread) or the lecture's own space (every cadre enrolled, a topic thread)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from courses.models import Enrolment, Lecture, Programme
    from discussion.models import GroupMember, Space, StudyGroup, Thread
    from portal.models import OrgUnit, User

    root = OrgUnit.add_root(name="浙江省", kind=OrgUnit.Kind.PROVINCE)
    city = root.add_child(name="杭州市", kind=OrgUnit.Kind.CITY)
    county = city.add_child(name="西湖区", kind=OrgUnit.Kind.COUNTY)
    town = county.add_child(name="灵隐街道", kind=OrgUnit.Kind.TOWNSHIP)
    programme = Programme.objects.create(title="人工智能专题培训(压测)", organiser_unit=county)
    programme.audience.set([county])
    now = timezone.now()
    lecture = Lecture.objects.create(
        programme=programme,
        sequence=1,
        title="第1讲 人工智能新浪潮",
        starts_at=now - timedelta(hours=3),
        duration_minutes=90,
        stream_url="/demo/hls/live.m3u8",
    )
    password = make_password(None)
    users = User.objects.bulk_create(
        [
            User(username=f"discbench{i}", full_name=f"干部{i}", unit=town, password=password)
            for i in range(members)
        ],
        batch_size=2000,
    )
    if kind == "group":
        space = Space.objects.create(kind=Space.Kind.GROUP, programme=programme)
        group = StudyGroup.objects.create(space=space, name="灵隐街道学习群", unit=town)
        GroupMember.objects.bulk_create(
            [GroupMember(group=group, user=u) for u in users], batch_size=5000
        )
        thread = Thread.objects.create(space=space, lecture=lecture, title=lecture.title)
    else:
        space = Space.objects.create(kind=Space.Kind.LECTURE, programme=programme, lecture=lecture)
        Enrolment.objects.bulk_create(
            [Enrolment(user=u, programme=programme) for u in users], batch_size=5000
        )
        thread = Thread.objects.create(space=space, title="学习体会交流", author=users[0])
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
    return Seeded(space.pk, thread.pk, [u.pk for u in users], keys)


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
        self.done: dict[int, float] = {}  # seq → when the last socket had it
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

    def read(self, timeout: float = 600) -> dict[str, Any]:
        """The next answer to a command (completion notices are kept for ``wait_done``)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self._next(deadline - time.monotonic())
            if msg is None:
                raise RuntimeError("the client did not answer")
            if "done" not in msg:
                return msg
            self.done[int(msg["done"])] = float(msg["t"])

    def wait_done(self, seq: int, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while seq not in self.done:
            msg = self._next(deadline - time.monotonic())
            if msg is None:
                return None
            if "done" in msg:
                self.done[int(msg["done"])] = float(msg["t"])
        return self.done[seq]

    def close(self) -> None:
        try:
            self.send({"cmd": "quit"})
            self.proc.wait(20)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def machine_busy() -> tuple[float, float]:
    """(busy CPU seconds of all cores, seconds of all cores) since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / TICK, sum(fields) / TICK


def daphne_pids_in_group(pgid: int) -> list[int]:
    """The daphne processes of a ``make serve`` process group (from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != pgid:
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"daphne" in cmdline and b"portal.asgi" in cmdline and not cmdline.startswith(b"bash"):
            pids.append(int(entry))
    return pids


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


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


@dataclass
class Result:
    kind: str
    topology: str
    via: str
    processes: int
    members: int
    pages: int
    posts: int
    sockets: int = 0
    connect_s: float = 0.0
    connect_each_p50: float = 0.0
    connect_each_p99: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    top: float = 0.0
    first_p50: float = 0.0
    first_p99: float = 0.0
    first_max: float = 0.0
    all_p50: float = 0.0
    all_p99: float = 0.0
    all_max: float = 0.0
    one_p50: float = 0.0  # the first socket of each post: the path without the fan-out
    one_max: float = 0.0
    write_p50: float = 0.0
    write_max: float = 0.0
    delivered: int = 0
    expected: int = 0
    missing: int = 0
    gaps: int = 0
    duplicates: int = 0
    server_cpu_us: float = 0.0
    client_cpu_us: float = 0.0
    busy_all: float = 0.0  # the machine's CPU use during the posts (0..1 of all cores)
    busy_ours: float = 0.0  # of which the daphne processes, the client and this driver
    load: str = ""
    per_post_ms: list[int] = field(default_factory=list)  # until every socket had it
    problems: list[str] = field(default_factory=list)


POST_TEXT = (
    "第{k}条:听完这一讲,我们街道准备先在便民服务中心试点用大模型整理群众来信,"
    "每周汇总一次热点问题,再由班子集体研究。大家有什么好的做法,欢迎交流。"
)


class ServiceWriter:
    """Posts through ``discussion.services.post_create`` in this process; the clock starts
    when the write's COMMIT returns (before the on-commit broadcast)."""

    def __init__(self, seeded: Seeded) -> None:
        from django.db import connections

        self.seeded = seeded
        self.commits: list[float] = []
        wrapper: Any = connections["default"]  # its private _commit: the COMMIT itself
        real = wrapper._commit

        def timed_commit() -> Any:
            done = real()
            self.commits.append(time.monotonic())
            return done

        wrapper._commit = timed_commit

    def post(self, k: int, author: int) -> tuple[float, float, float]:
        """(t0 = COMMIT returned, call start, call end)."""
        from discussion import selectors, services
        from portal.models import User

        user = User.objects.select_related("unit").get(pk=self.seeded.user_ids[author])
        access = selectors.space_access_get(user=user, space_id=self.seeded.space_id)
        self.commits.clear()
        t_call = time.monotonic()
        result = services.post_create(
            access=access,
            thread_id=self.seeded.thread_id,
            text=POST_TEXT.format(k=k + 1),
            client_id=uuid.uuid4().hex,
        )
        t_end = time.monotonic()
        if not result.created or not self.commits:
            raise RuntimeError(f"post {k} was not written")
        return self.commits[-1], t_call, t_end

    def close(self) -> None:
        pass


class ApiWriter:
    """Posts through ``POST /api/discussion/threads/<id>/posts/`` with the author's session
    and CSRF token; the clock starts when the request is sent."""

    def __init__(
        self, seeded: Seeded, base: str, authors: list[int], source: str | None = None
    ) -> None:
        import httpx

        self.seeded = seeded
        self.base = base
        self.clients: dict[int, Any] = {}
        page = f"/discussion/threads/{seeded.thread_id}/"
        for author in authors:  # each author's thread page first: its CSRF cookie
            http = httpx.Client(
                base_url=base,
                timeout=30,
                cookies={"sessionid": seeded.cookies[author]},
                transport=httpx.HTTPTransport(local_address=source),
            )
            r = http.get(page)
            if r.status_code != 200 or "csrftoken" not in http.cookies:
                raise RuntimeError(f"thread page for author {author}: HTTP {r.status_code}")
            self.clients[author] = http

    def post(self, k: int, author: int) -> tuple[float, float, float]:
        http = self.clients[author]
        body = json.dumps(
            {"text": POST_TEXT.format(k=k + 1), "client_id": uuid.uuid4().hex},
            ensure_ascii=False,
        )
        headers = {
            "Content-Type": "application/json",
            "X-CSRFToken": http.cookies["csrftoken"],
            "Origin": self.base,
            "Referer": f"{self.base}/discussion/threads/{self.seeded.thread_id}/",
        }
        t_call = time.monotonic()
        r = http.post(
            f"/api/discussion/threads/{self.seeded.thread_id}/posts/",
            content=body.encode(),
            headers=headers,
        )
        t_end = time.monotonic()
        if r.status_code != 201:
            raise RuntimeError(f"post {k}: HTTP {r.status_code} {r.text[:200]}")
        return t_call, t_call, t_end

    def close(self) -> None:
        for http in self.clients.values():
            http.close()


def measure(
    res: Result,
    *,
    seeded: Seeded,
    targets: list[tuple[int, str]],
    server_pids: Any,
    writer: Any,
    gap: float,
) -> None:
    from discussion import broadcast

    client = Client()
    try:
        page_seq = broadcast.seq_current(space_id=seeded.space_id)  # what a page carries now
        client.send(
            {
                "cmd": "connect",
                "path": f"/ws/discussion/{seeded.space_id}/",
                "targets": targets,
                "last_seq": page_seq,
                "concurrency": 64,
            }
        )
        answer = client.read()
        res.sockets = answer["connected"]
        res.connect_s = answer["seconds"]
        res.connect_each_p50, res.connect_each_p99 = answer["each_p50"], answer["each_p99"]
        if answer["failed"]:
            res.problems.append(
                f"{answer['failed']} sockets refused (close codes {answer['closed_codes']})"
            )
        time.sleep(1.0)

        t0s: dict[int, float] = {}  # seq → the clock's start for that post
        last = page_seq
        alls: list[float] = []
        writes: list[float] = []
        pids = server_pids()
        cpu0 = cpu_seconds(pids)
        mine0 = cpu_seconds([client.proc.pid, os.getpid()])
        busy0, total0 = machine_busy()
        for k in range(res.posts):
            author = k % len(seeded.user_ids)
            t0, t_call, t_end = writer.post(k, author)
            seq = broadcast.seq_current(space_id=seeded.space_id)
            if seq != last + 1:  # another writer, or the Redis database was flushed
                res.problems.append(f"post {k + 1}: the space's seq went from {last} to {seq}")
                if seq in t0s:
                    break
            last = seq
            t0s[seq] = t0
            # service: the call until its COMMIT returned; api: the request's round trip
            writes.append((t0 if res.via == "service" else t_end) - t_call)
            done = client.wait_done(seq, 30)
            if done is None:
                res.problems.append(f"post {k + 1} (seq {seq}) did not reach every socket in 30 s")
            else:
                alls.append(done - t0)
            time.sleep(gap)
        cpu = cpu_seconds(pids) - cpu0
        busy1, total1 = machine_busy()
        mine = cpu_seconds([client.proc.pid, os.getpid()]) - mine0
        res.busy_all = (busy1 - busy0) / max(total1 - total0, 1e-9)
        res.busy_ours = (cpu + mine) / max(total1 - total0, 1e-9)
        client.send({"cmd": "report", "t0": {str(s): t for s, t in t0s.items()}})
        rep = client.read()
    finally:
        client.close()

    lat_by_post = [rep["latencies"][str(s)] for s in t0s]
    every = sorted(x for post in lat_by_post for x in post)
    first = lat_by_post[0] if lat_by_post else []
    res.delivered = len(every)
    res.expected = res.sockets * len(t0s)
    res.missing = res.expected - res.delivered
    res.p50, res.p95, res.p99 = pct(every, 0.5), pct(every, 0.95), pct(every, 0.99)
    res.top = max(every or [float("nan")])
    res.first_p50, res.first_p99 = pct(first, 0.5), pct(first, 0.99)
    res.first_max = max(first or [float("nan")])
    ones = sorted(post[0] for post in lat_by_post if post)
    res.one_p50, res.one_max = pct(ones, 0.5), max(ones or [float("nan")])
    res.per_post_ms = [round(x * 1000) for x in alls]
    alls.sort()
    res.all_p50, res.all_p99, res.all_max = pct(alls, 0.5), pct(alls, 0.99), max(alls or [0])
    writes.sort()
    res.write_p50, res.write_max = pct(writes, 0.5), max(writes or [0])
    res.gaps, res.duplicates = rep["gaps"], rep["duplicates"]
    res.server_cpu_us = cpu * 1e6 / max(1, res.delivered)
    res.client_cpu_us = rep["cpu_s"] * 1e6 / max(1, res.delivered)
    if res.missing:
        res.problems.append(f"{res.missing} of {res.expected} deliveries missing")
    if res.gaps or res.duplicates:
        res.problems.append(f"seq gaps {res.gaps}, duplicates {res.duplicates}")
    if rep["lost"] or rep["closed_codes"]:
        res.problems.append(f"{rep['lost']} sockets lost; server closes {rep['closed_codes']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=("group", "lecture"), default="group")
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--topology", choices=("direct", "serve"), default="direct")
    parser.add_argument("--via", choices=("service", "api"), default="service")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between posts")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.pages > args.members:
        parser.error("--pages cannot exceed --members (one page per member)")

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.pages + 500:
        print(f"the fd limit ({hard}) is below {args.pages + 500}", file=sys.stderr)
        return 1

    db_url = os.environ.get("BENCH_DISC_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_DISC_REDIS_URL", "")
    redis_proc, redis_dir = None, None
    if not redis_url:
        redis_proc, redis_base, redis_dir = start_redis(purpose="the discussion fan-out")
        redis_url = f"{redis_base}/0"
    prefix = f"zxdiscbench:{uuid.uuid4().hex[:8]}:"
    static_root = tempfile.mkdtemp(prefix="zx-discbench-static-")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_ALLOW", "ZHIXING_"))},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "LIVE_REDIS_URL": redis_url,
        "LIVE_REDIS_PREFIX": prefix,
        "STATIC_ROOT": static_root,  # collected for --via api (the thread page renders)
        # plain http on loopback (no TLS in front): no redirect, cookies without Secure
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    try:
        return run(args, env, db_url=db_url, redis_url=redis_url, prefix=prefix)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
            shutil.rmtree(str(redis_dir), ignore_errors=True)
        shutil.rmtree(static_root, ignore_errors=True)


def run(args: Any, env: dict[str, str], *, db_url: str, redis_url: str, prefix: str) -> int:
    t = time.monotonic()
    recreate_database(db_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seeded = seed(args.kind, args.members)
    from django.db import connection

    connection.close()
    print(
        f"# database ready: {args.kind} space, {args.members} members with sessions "
        f"({time.monotonic() - t:.1f} s)",
        flush=True,
    )

    import redis

    res = Result(
        kind=args.kind,
        topology=args.topology,
        via=args.via,
        processes=args.processes,
        members=args.members,
        pages=args.pages,
        posts=args.posts,
    )
    procs: list[subprocess.Popen[Any]] = []
    logs: list[Any] = []
    served = None
    writer: Any = None

    def stop(proc: subprocess.Popen[Any]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    try:
        if args.topology == "direct":
            if args.via == "api":
                done = manage_py(["collectstatic", "--noinput", "-v0"], env)
                if done.returncode != 0:
                    raise RuntimeError(done.stdout + done.stderr)
            ports = [free_port() for _ in range(args.processes)]
            for port in ports:
                log = open(  # closed in finally
                    Path(os.environ.get("TMPDIR", "/tmp")) / f"discussion_fanout_{port}.log", "wb"
                )
                logs.append(log)
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "daphne",
                            "-e",
                            f"tcp:port={port}:interface=127.0.0.1:backlog=2048",
                            "--websocket-max-message-size",
                            "65536",
                            "--websocket-max-frame-size",
                            "65536",
                            "--ping-interval",
                            "20",
                            "--ping-timeout",
                            "30",
                            "--application-close-timeout",
                            "10",
                            "--websocket_connect_timeout",
                            "30",
                            "portal.asgi:application",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            for port, proc in zip(ports, procs, strict=True):
                wait_port(port, proc, "daphne")
            targets = [(ports[i % len(ports)], seeded.cookies[i]) for i in range(args.pages)]
            base = f"http://127.0.0.1:{ports[0]}"
            pids = [p.pid for p in procs]

            def server_pids() -> list[int]:
                return pids

        else:
            served = serve_start(
                env=env,
                prefix="zx-discbench",
                web=args.processes,
                web_base_port=free_port(),
            )
            base = served.base
            port = int(base.rsplit(":", 1)[1])
            targets = [(port, seeded.cookies[i]) for i in range(args.pages)]
            pgid = served.process.pid

            def server_pids() -> list[int]:
                return daphne_pids_in_group(pgid)

        authors = [k % len(seeded.user_ids) for k in range(args.posts)]
        if args.via == "service":
            writer = ServiceWriter(seeded)
        else:
            # through nginx the authors post from another address: the 2,000 pages from
            # one address fill its per-address connection limit (limit_conn 2000)
            source = "127.0.0.2" if args.topology == "serve" else None
            writer = ApiWriter(seeded, base, authors, source)
        measure(
            res,
            seeded=seeded,
            targets=targets,
            server_pids=server_pids,
            writer=writer,
            gap=args.gap,
        )
        res.load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    finally:
        if writer is not None:
            writer.close()
        for proc in procs:
            stop(proc)
        for log in logs:
            log.close()
        if served is not None:
            serve_stop(served)
            shutil.rmtree(served.folder, ignore_errors=True)
        rc = redis.Redis.from_url(redis_url)
        for key in rc.scan_iter(f"{prefix}*"):
            rc.delete(key)
        rc.close()
        connection.close()
        if not args.keep_db:
            recreate_database(db_url)  # leave an empty database, not 5000 sessions

    report(res, args)
    return 1 if res.problems else 0


def report(r: Result, args: Any) -> None:
    ms = 1000
    topo = (
        f"{r.processes} daphne direct"
        if r.topology == "direct"
        else f"nginx → {r.processes} daphne → PgBouncer"
    )
    clock = "COMMIT" if r.via == "service" else "request sent"
    print()
    print(
        f"Discussion fan-out: {r.kind} space, {r.members} members, {r.pages} pages on {topo}, "
        f"{r.posts} posts one at a time via {r.via} (clock from {clock}; load {r.load})"
    )
    print(
        f"connect: {r.sockets}/{r.pages} pages ready (hello answered) in {r.connect_s:.1f} s "
        f"({r.sockets / max(r.connect_s, 1e-9):.0f}/s; each p50 {r.connect_each_p50 * ms:.0f} ms, "
        f"p99 {r.connect_each_p99 * ms:.0f} ms)"
    )
    head = f"{'':<26} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
    print(head)
    print("-" * len(head))
    print(
        f"{'every delivery':<26} {r.p50 * ms:>5.0f}ms {r.p95 * ms:>5.0f}ms "
        f"{r.p99 * ms:>5.0f}ms {r.top * ms:>5.0f}ms"
    )
    print(
        f"{'first post, each socket':<26} {r.first_p50 * ms:>5.0f}ms {'':>7} "
        f"{r.first_p99 * ms:>5.0f}ms {r.first_max * ms:>5.0f}ms"
    )
    print(
        f"{'until every socket had it':<26} {r.all_p50 * ms:>5.0f}ms {'':>7} "
        f"{r.all_p99 * ms:>5.0f}ms {r.all_max * ms:>5.0f}ms"
    )
    print(
        f"{'first socket of each post':<26} {r.one_p50 * ms:>5.0f}ms {'':>7} {'':>7} "
        f"{r.one_max * ms:>5.0f}ms"
    )
    label = "the write (call→COMMIT)" if r.via == "service" else "POST round trip"
    print(f"{label:<26} {r.write_p50 * ms:>5.0f}ms {'':>7} {'':>7} {r.write_max * ms:>5.0f}ms")
    print(
        f"deliveries {r.delivered}/{r.expected} (missing {r.missing}, seq gaps {r.gaps}, "
        f"duplicates {r.duplicates}); CPU per delivery: daphne {r.server_cpu_us:.1f} µs, "
        f"client {r.client_cpu_us:.1f} µs"
    )
    print(
        f"CPU during the posts: machine {r.busy_all:.0%} of {os.cpu_count()} cores, of which "
        f"this run's daphne + client + driver {r.busy_ours:.0%} (the rest: PostgreSQL, Redis, "
        "other jobs)"
    )
    for p in r.problems:
        print(f"  ! {p}")
    if args.json:
        print(json.dumps(r.__dict__, ensure_ascii=False))
    met = "met" if r.p99 <= TARGET_P99 else "MISSED"
    print(
        f"{r.pages} pages of {r.members} ({r.kind}, {topo}): {r.delivered}/{r.expected} "
        f"delivered, p50 {r.p50 * ms:.0f} / p95 {r.p95 * ms:.0f} / p99 {r.p99 * ms:.0f} / "
        f"max {r.top * ms:.0f} ms from {clock}; connect {r.connect_s:.1f} s; p99<=300ms {met}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        asyncio.run(client_main())
    else:
        sys.exit(main())
