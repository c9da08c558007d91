"""19:00: the surge on the production topology (issue 12 §6), from a separate process.

Usage (from the project root)::

    .venv/bin/python bench/surge.py [--clients 200] [--requests 2000] [--sign-ins 120]
        [--sockets 2000] [--web 2] [--pool 20] [--json]

Steps: drop and re-create ``BENCH_SURGE_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_surgebench``), seed the demo (cadres enough for
every measurement; its live lecture), make one session per simulated cadre; start
``scripts/serve.sh`` (``make serve``: nginx → ``--web`` daphne processes → PgBouncer with a
pool of ``--pool``, Celery) with DEBUG=false and ``BENCH_SURGE_REDIS_URL`` (default
``redis://127.0.0.1:6379/8``, so databases 8–11); then, from this process:

1. **live-room page**: ``--requests`` GETs of the live room by ``--clients`` concurrent
   signed-in cadres through nginx: req/s, 5xx count, p50/p99 latency;
2. **PostgreSQL server connections**: the most seen on the benchmark database meanwhile;
3. **a hall signing in**: ``--sign-ins`` password sign-ins (CSRF, POST) from one address
   through nginx, 16 at a time: signed in, refused (429), seconds, sign-ins per minute;
4. **websocket connects**: ``--sockets`` signed-in sockets to the live room through nginx
   until each has its ``state``, 100 at a time: connects/s and failures, against a bare
   ``websockets`` server in its own process (one state-sized frame per connect) with the
   same client in the same run; the ratio.

5. **reconnect storm**: ``--storm`` signed-in sockets spread over the web processes by
   nginx, 45 questions published (5/s) through the app's broadcast path; after the 15th,
   SIGKILL of the first web process (``make serve`` starts it again): how many sockets
   dropped, how long until each is back (its reconnect ``state``), and how many of the
   published questions some socket lacks at the end (from its ``state`` or the events).

Ends with two summary lines; exit 1 when a step failed to run (not on a missed target).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/zhixing_surgebench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _support import free_port, manage_py, recreate_database, serve_start, serve_stop  # noqa: E402

BARE_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve
STATE = sys.argv[2]
async def handler(ws):
    await ws.send(STATE)
    await ws.wait_closed()
async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), backlog=2048):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _server_connections(db_url: str, stop: threading.Event, seen: list[int]) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    parts = urlsplit(db_url)
    name = parts.path.lstrip("/")
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name])
                seen.append(int(cur.fetchone()[0]))
                time.sleep(0.05)
    finally:
        conn.close()


async def page_load(
    base: str, cookies: list[str], path: str, total: int, clients: int
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    codes: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def client(k: int) -> None:
        async with httpx.AsyncClient(
            base_url=base, timeout=60, cookies={"sessionid": cookies[k % len(cookies)]}
        ) as http:
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t = time.monotonic()
                try:
                    r = await http.get(path)
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
                except httpx.HTTPError:
                    codes[0] = codes.get(0, 0) + 1
                latencies.append(time.monotonic() - t)

    started = time.monotonic()
    await asyncio.gather(*(client(k) for k in range(clients)))
    seconds = time.monotonic() - started
    return {
        "requests": total,
        "clients": clients,
        "req_per_s": round(total / seconds, 1),
        "errors_5xx": sum(n for c, n in codes.items() if c >= 500 or c == 0),
        "codes": {str(c): n for c, n in sorted(codes.items())},
        "p50_ms": round(_percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
    }


async def page_weight(base: str, cookie: str, path: str) -> dict[str, Any]:
    """Bytes on the wire (gzip accepted) of the page, its scripts and stylesheets, plus
    hls.js as a browser without native HLS fetches it; not the video."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30, cookies={"sessionid": cookie}) as http:
        page = await http.get(path, headers={"Accept-Encoding": "gzip"})
        assets = re.findall(r'<script src="([^"]+)"', page.text) + re.findall(
            r'<link rel="stylesheet" href="([^"]+)"', page.text
        )
        config = re.search(r'"hlsScript": "([^"]+)"', page.text)
        if config:
            assets.append(config[1])
        sizes = {"page": page.num_bytes_downloaded}
        for url in assets:
            r = await http.get(url, headers={"Accept-Encoding": "gzip"})
            sizes[url.rsplit("/", 1)[-1]] = r.num_bytes_downloaded
    return {"kib": round(sum(sizes.values()) / 1024, 1), "bytes": sizes}


async def sign_ins(base: str, usernames: list[str], password: str) -> dict[str, Any]:
    import httpx

    outcomes: dict[str, int] = {"signed_in": 0, "refused_429": 0, "other": 0}
    gate = asyncio.Semaphore(16)

    async def one(username: str) -> None:
        async with gate, httpx.AsyncClient(base_url=base, timeout=60) as http:
            page = await http.get("/accounts/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            if page.status_code == 429 or token is None:
                outcomes["refused_429" if page.status_code == 429 else "other"] += 1
                return
            r = await http.post(
                "/accounts/login/",
                data={"login": username, "password": password, "csrfmiddlewaretoken": token[1]},
                headers={"Referer": f"{base}/accounts/login/"},
            )
            if r.status_code == 302 and "sessionid" in http.cookies:
                outcomes["signed_in"] += 1
            elif r.status_code == 429:
                outcomes["refused_429"] += 1
            else:
                outcomes["other"] += 1

    started = time.monotonic()
    await asyncio.gather(*(one(u) for u in usernames))
    seconds = time.monotonic() - started
    return {
        **outcomes,
        "seconds": round(seconds, 1),
        "per_minute": round(outcomes["signed_in"] / seconds * 60, 1),
    }


async def connects(url: str, cookies: list[str] | None, origin: str, n: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(100)
    failed = 0
    sockets: list[Any] = []

    async def one(k: int) -> None:
        nonlocal failed
        headers = {"Origin": origin}
        if cookies:
            headers["Cookie"] = f"sessionid={cookies[k % len(cookies)]}"
        async with gate:
            try:
                ws = await connect(url, additional_headers=headers, open_timeout=30)
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame.get("type") != "state":
                    failed += 1
                sockets.append(ws)
            except Exception:
                failed += 1

    started = time.monotonic()
    await asyncio.gather(*(one(k) for k in range(n)))
    seconds = time.monotonic() - started
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {"sockets": n, "failed": failed, "per_s": round((n - failed) / seconds, 1)}


async def storm(
    *, url: str, origin: str, cookies: list[str], lecture_id: int, web_port: int, events: int
) -> dict[str, Any]:
    """Sockets spread over the web processes while questions are published; one process is
    SIGKILLed; how long until every socket is connected again and knows every question
    (from its reconnect ``state`` or the events after it), and how many it lacks."""
    from asgiref.sync import sync_to_async
    from websockets.asyncio.client import connect

    from livestream.broadcast import question_published
    from livestream.events import question_payload
    from livestream.models import Question
    from portal.models import User

    n = len(cookies)
    known: list[set[int]] = [set() for _ in range(n)]
    connected = [False] * n
    reconnected_at: list[float | None] = [None] * n
    dropped = [False] * n
    stop = asyncio.Event()
    killed_at = 0.0

    async def client(k: int) -> None:
        attempt = 0
        rng = random.Random(k)
        headers = {"Origin": origin, "Cookie": f"sessionid={cookies[k]}"}
        while not stop.is_set():
            try:
                async with connect(url, additional_headers=headers, open_timeout=30) as ws:
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame["type"] == "state":
                            known[k].update(q["id"] for q in frame["questions"])
                            connected[k] = True
                            attempt = 0
                            if dropped[k] and reconnected_at[k] is None:
                                reconnected_at[k] = time.monotonic()
                        elif frame["type"] == "question.published":
                            known[k].add(frame["question"]["id"])
                        if stop.is_set():
                            return
            except Exception:  # noqa: S110 - a lost socket reconnects below
                pass
            if stop.is_set():
                return
            if connected[k] and killed_at:
                dropped[k] = True
            connected[k] = False
            attempt += 1  # the page's backoff (livestream.js): 1, 2, 4, 8, 16 s × 0.5–1.5
            await asyncio.sleep(min(30, 2 ** min(attempt, 5) / 2) * rng.uniform(0.5, 1.5))

    author = await sync_to_async(User.objects.filter(username__startswith="gb").first)()
    if author is None:
        return {"sockets": n, "error": "no generated cadre to ask"}

    @sync_to_async
    def publish(i: int) -> int:
        q = Question.objects.create(
            lecture_id=lecture_id,
            author=author,
            text=f"压测问题 {i}",
            client_id=f"storm-{uuid.uuid4().hex[:12]}",
            status=Question.Status.APPROVED,
        )
        q = Question.objects.select_related("author", "author__unit").get(pk=q.pk)
        question_published(lecture_id=lecture_id, question=question_payload(q))
        return int(q.pk)

    tasks = [asyncio.create_task(client(k)) for k in range(n)]
    deadline = time.monotonic() + 120
    while not all(connected) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if not all(connected):
        stop.set()
        return {"sockets": n, "error": f"only {sum(connected)} connected"}
    published: list[int] = []
    victim = subprocess.run(  # the daphne process serving web_port
        ["pgrep", "-f", f"tcp:port={web_port}:"], capture_output=True, text=True, check=False
    ).stdout.split()
    for i in range(events):
        published.append(await publish(i))
        if i == events // 3 and victim:
            killed_at = time.monotonic()
            os.kill(int(victim[0]), signal.SIGKILL)
        await asyncio.sleep(0.2)
    deadline = time.monotonic() + 60
    want = set(published)
    while time.monotonic() < deadline:
        if all(connected) and all(want <= kn for kn in known):
            break
        await asyncio.sleep(0.1)
    settled = time.monotonic()
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    times = [t - killed_at for t in reconnected_at if t is not None]
    return {
        "sockets": n,
        "dropped": sum(dropped),
        "reconnected": len(times),
        "all_back_s": round(max(times), 1) if times else None,
        "settled_s": round(settled - killed_at, 1) if killed_at else None,
        "events": len(published),
        "missing": sum(len(want - kn) for kn in known),
        "killed": bool(victim),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--sign-ins", type=int, default=120)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--pool", type=int, default=20)
    parser.add_argument("--storm", type=int, default=600, help="sockets for the storm; 0: skip")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    db_url = os.environ.get("BENCH_SURGE_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_SURGE_REDIS_URL", DEFAULT_REDIS)
    people = max(options.clients, options.sign_ins, min(options.sockets, 2000), options.storm)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_ALLOW", "ZHIXING_"))},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    import redis

    recreate_database(db_url)
    base_db = int(redis_url.rsplit("/", 1)[1])
    for i in range(4):  # the deployment's four Redis databases, fresh
        redis.Redis.from_url(f"{redis_url.rsplit('/', 1)[0]}/{base_db + i}").flushdb()
    for args in (
        ["migrate", "--noinput", "-v0"],
        ["seed_demo", "--cadres", str(people * 2), "--force"],
    ):
        done = manage_py(args, {**env, "DEBUG": "true"})
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            return 1
    os.environ.update(env)
    import django

    django.setup()
    from demo.audience import audience_lecture, audience_sessions
    from demo.seed import CADRE_USERNAME_PREFIX, DEMO_PASSWORD

    lecture = audience_lecture()
    cookies = audience_sessions(lecture=lecture, count=people)  # ~70% of the seeded enrol
    usernames = [f"{CADRE_USERNAME_PREFIX}{i:06d}" for i in range(1, options.sign_ins + 1)]
    from django.db import connection

    connection.close()  # only the portal's own connections count from here

    web_base = free_port()
    served = serve_start(
        env=env,
        prefix="zx-surge",
        web=options.web,
        web_base_port=web_base,
        DATABASE_POOL_SIZE=str(options.pool),
    )
    base = served.base
    port = base.rsplit(":", 1)[1]
    bare = None
    result: dict[str, Any] = {
        "benchmark": "surge",
        "web_processes": options.web,
        "pool": options.pool,
    }
    try:
        room = f"/lectures/{lecture.pk}/live/"
        stop, seen = threading.Event(), [0]
        watcher = threading.Thread(target=_server_connections, args=(db_url, stop, seen))
        watcher.start()
        try:
            result["weight"] = asyncio.run(page_weight(base, cookies[0], room))
            result["page"] = asyncio.run(
                page_load(base, cookies, room, options.requests, options.clients)
            )
            result["sign_in"] = asyncio.run(sign_ins(base, usernames, DEMO_PASSWORD))
            ws_url = f"ws://127.0.0.1:{port}/ws/lectures/{lecture.pk}/"
            result["ws_portal"] = asyncio.run(connects(ws_url, cookies, base, options.sockets))
        finally:
            stop.set()
            watcher.join()
        result["pg_connections_max"] = max(seen)

        state = json.dumps({"type": "state", "questions": [], "pad": "x" * 1500})
        bare_port = free_port()
        bare = subprocess.Popen(
            [sys.executable, "-c", BARE_SERVER, str(bare_port), state],
            stdout=subprocess.PIPE,
            text=True,
        )
        if bare.stdout is None or bare.stdout.readline().strip() != "ready":
            raise SystemExit("the bare websockets server did not start")
        result["ws_bare"] = asyncio.run(
            connects(f"ws://127.0.0.1:{bare_port}/", None, base, options.sockets)
        )
        if options.storm:
            result["storm"] = asyncio.run(
                storm(
                    url=ws_url,
                    origin=base,
                    cookies=cookies[: options.storm],
                    lecture_id=lecture.pk,
                    web_port=web_base,
                    events=45,
                )
            )
        result["ws_ratio"] = round(
            result["ws_portal"]["per_s"] / max(result["ws_bare"]["per_s"], 0.1), 3
        )
    finally:
        if bare is not None:
            bare.terminate()
        serve_stop(served)

    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    p, s, w = result["page"], result["sign_in"], result["ws_portal"]
    print(
        f"surge ({options.web} web): room page {result['weight']['kib']} KiB first load, "
        f"{p['req_per_s']} req/s, {p['errors_5xx']} 5xx, "
        f"p99 {p['p99_ms']} ms; PG conns max {result['pg_connections_max']} (pool "
        f"{options.pool}); sign-ins {s['signed_in']}/{options.sign_ins} from one address "
        f"({s['refused_429']} refused, {s['per_minute']}/min); ws connects {w['per_s']}/s "
        f"({w['failed']} failed) = {result['ws_ratio']:.1%} of bare {result['ws_bare']['per_s']}/s"
    )
    if "storm" in result:
        st = result["storm"]
        print(
            f"storm: {st.get('dropped')} of {st['sockets']} sockets dropped by SIGKILL of one web "
            f"process, all back in {st.get('all_back_s')} s, {st.get('missing')} of "
            f"{st.get('events')} events missing"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
