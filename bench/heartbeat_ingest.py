"""Heartbeat ingest: N signed-in sockets send ``heartbeat`` frames to ONE daphne process
(production settings, attendance buffer in Redis); acknowledged heartbeats/s and ack latency.

Usage (from the project root)::

    .venv/bin/python bench/heartbeat_ingest.py [--sockets 2000] [--seconds 10] [--json]

Steps: re-create ``BENCH_LIVE_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_livebench``), migrate, seed one live lecture and N
cadres with sessions (``bench/ws_fanout.py``'s seeding; not timed); start daphne with the live
store and the attendance buffer on ``BENCH_LIVE_REDIS_URL`` (default
``redis://127.0.0.1:6379/13``, fresh key prefixes). A separate client process opens N
sockets; each sends a heartbeat, waits for its ``heartbeat.ack`` and sends the next, for
``--seconds``. Real players send one frame per ATTENDANCE_HEARTBEAT_SECONDS, so the per-socket
flood limit is raised for the run (this measures the server's intake, not the limiter).

Target (issue 4): >= 10,000 heartbeats/s per process (200,000 viewers / 30 s = 6,700/s in
all). The client shares the machine's two cores with daphne, so the figure is a floor.
Ends with one summary line; exit 1 if sockets failed or no ack came back, not when the
target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/zhixing_livebench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p"]
CLIENT = [sys.executable, __file__, "--seconds"]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


BEAT = json.dumps({"type": "heartbeat", "playing": True})


async def client_main(port: int, path: str, cookies: list[str], seconds: float) -> None:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    warm: list[float] = []  # without each socket's first heartbeat (its cold caches)
    acks = 0
    failed = 0
    settled = 0  # sockets connected (state received) or failed
    stop_at = 0.0
    started = asyncio.Event()
    sem = asyncio.Semaphore(100)

    async def one(cookie: str) -> None:
        nonlocal acks, failed, settled
        ready = False
        try:
            async with sem:
                ws = await connect(
                    f"ws://127.0.0.1:{port}{path}",
                    origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
                    additional_headers={"Cookie": f"sessionid={cookie}"},
                    open_timeout=60,
                    max_size=2**20,
                )
            try:
                while json.loads(await ws.recv()).get("type") != "state":
                    pass
                ready, settled = True, settled + 1
                await started.wait()
                first = True
                while time.monotonic() < stop_at:
                    t0 = time.monotonic()
                    await ws.send(BEAT)
                    while True:
                        frame = json.loads(await ws.recv())
                        if frame.get("type") == "heartbeat.ack":
                            break
                    latencies.append(time.monotonic() - t0)
                    if not first:
                        warm.append(latencies[-1])
                    first = False
                    acks += 1
            finally:
                await ws.close()
        except Exception:
            failed += 1
            if not ready:
                settled += 1

    tasks = [asyncio.create_task(one(c)) for c in cookies]
    while settled < len(tasks):  # every socket connected (or failed) before the clock starts
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    print(json.dumps({"phase": "go"}), flush=True)
    begin = time.monotonic()
    cpu0 = time.process_time()
    stop_at = begin + seconds
    started.set()
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - begin
    client_cpu = time.process_time() - cpu0
    print(json.dumps({"phase": "end"}), flush=True)
    latencies.sort()
    warm.sort()

    def pct(q: float, values: list[float] = latencies) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0

    print(
        json.dumps(
            {
                "acks": acks,
                "failed": failed,
                "seconds": elapsed,
                "rate": acks / elapsed if elapsed else 0.0,
                "p50_ms": pct(0.5) * 1000,
                "p99_ms": pct(0.99) * 1000,
                "warm_p99_ms": pct(0.99, warm) * 1000,
                "client_cpu_us": client_cpu / max(acks, 1) * 1e6,
            }
        ),
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--target", type=float, default=10_000.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        port, path, cookie_file = args.client
        cookies = Path(cookie_file).read_text().split()
        asyncio.run(client_main(int(port), path, cookies, args.seconds))
        return 0

    import resource

    from ws_fanout import free_port, recreate_database, seed, wait_port

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    db_url = os.environ.get("BENCH_LIVE_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_LIVE_REDIS_URL", DEFAULT_REDIS)
    run = uuid.uuid4().hex[:8]
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "LIVE_REDIS_URL": redis_url,
        "LIVE_REDIS_PREFIX": f"zxbench:{run}:",
        "ATTENDANCE_REDIS_URL": redis_url,
        "ATTENDANCE_REDIS_PREFIX": f"zxbench:{run}:att:",
        "LIVE_FLOOD_FRAMES": "100000000",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    recreate_database(db_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    lecture_id, cookies = seed(args.sockets)
    connection.close()
    cookie_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"heartbeat_ingest_{run}.txt"
    cookie_file.write_text("\n".join(cookies))

    port = free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"heartbeat_ingest_daphne_{port}.log"
    procs: list[subprocess.Popen[Any]] = []
    try:
        with open(log_path, "wb") as log:
            daphne = subprocess.Popen(
                [*DAPHNE, str(port), "portal.asgi:application"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        procs.append(daphne)
        wait_port(port, daphne, "daphne")
        path = f"/ws/lectures/{lecture_id}/"
        argv = [*CLIENT, str(args.seconds), "--client", str(port), path, str(cookie_file)]
        client = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(client)
        assert client.stdout is not None
        result: dict[str, Any] = {}
        cpu = [0.0, 0.0]
        for line in client.stdout:
            if not line.startswith("{"):
                continue
            msg = json.loads(line)
            if msg.get("phase") == "go":
                cpu[0] = cpu_seconds(daphne.pid)
            elif msg.get("phase") == "end":
                cpu[1] = cpu_seconds(daphne.pid)
            else:
                result = msg
        client.wait(60)
        if not result:
            return 1
        result["server_cpu_us"] = (cpu[1] - cpu[0]) / max(result["acks"], 1) * 1e6
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        cookie_file.unlink(missing_ok=True)
        import redis

        store = redis.Redis.from_url(redis_url)
        for key in store.scan_iter(f"zxbench:{run}:*", count=10_000):  # this run's keys only
            store.delete(key)
        store.close()
    if args.json:
        print(json.dumps(result))
    ok = result["failed"] == 0 and result["acks"] > 0
    print(
        f"heartbeat ingest: {args.sockets} sockets, {result['rate']:.0f} acked heartbeats/s "
        f"(target {args.target:.0f}), ack p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms (warm {result['warm_p99_ms']:.1f} ms), "
        f"server CPU {result['server_cpu_us']:.0f} µs/heartbeat "
        f"(≈ {1e6 / max(result['server_cpu_us'], 1):.0f}/s per core), "
        f"client CPU {result['client_cpu_us']:.0f} µs/heartbeat, "
        f"failed sockets {result['failed']}, "
        f"{'OK' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
