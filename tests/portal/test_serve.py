"""``make serve`` (scripts/serve.sh): the production topology on one machine — nginx in
front of two daphne processes, PgBouncer in transaction mode, a Celery worker and beat —
starts, serves pages, static files and websockets through nginx, keeps PostgreSQL's server
connections within the pool under concurrent page loads, and stops as a whole on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import connect

from tests.livestream.servers import free_port, group_alive

pytestmark = pytest.mark.slow

POOL = 5
# REDIS_URL's database N and the three after it (8–11: beside the tests' own databases)
REDIS_BASE = int(os.environ.get("ZHIXING_TEST_SERVE_REDIS_DB", "8"))


def _admin() -> Any:
    db = connection.settings_dict
    conn = psycopg2.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname="postgres"
    )
    conn.autocommit = True
    return conn


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own: make serve migrates it."""
    name = f"zx_serve_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [name],
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def _server_connections(name: str) -> int:
    admin = _admin()
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name])
            return int(cur.fetchone()[0])
    finally:
        admin.close()


@pytest.fixture
def public() -> Iterator[Path]:
    """Where nginx's workers (nobody, under a root master) can read the static files:
    pytest's tmp_path is private to root."""
    folder = Path(tempfile.mkdtemp(prefix="zx-serve-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_make_serve_runs_the_topology_and_stops_cleanly(
    database: str, public: Path, tmp_path: Path
) -> None:
    db = connection.settings_dict
    port, pgbouncer, web = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ZHIXING_"))}
    env |= {
        "PY": str(settings.BASE_DIR / ".venv" / "bin" / "python")
        if (settings.BASE_DIR / ".venv" / "bin" / "python").exists()
        else "python",
        "PORT": str(port),
        "WEB_PROCESSES": "2",
        "WEB_BASE_PORT": str(web),
        "PGBOUNCER_PORT": str(pgbouncer),
        "DATABASE_POOL_SIZE": str(POOL),
        "SERVE_DIR": str(tmp_path / "serve"),
        "STATIC_ROOT": str(public / "static"),
        "MEDIA_ROOT": str(public / "media"),
        "DATABASE_URL": (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{database}"
        ),
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_BASE}",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        ["bash", str(settings.BASE_DIR / "scripts" / "serve.sh")],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        health: Any = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{base}/healthz/", timeout=5)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert health is not None and health.status_code == 200, (
            tmp_path / "serve.log"
        ).read_text()[-4000:]
        assert set(health.json()["checks"].values()) == {"ok"}

        # static files from nginx: hashed names cached for a year, compressed
        login = httpx.get(f"{base}/accounts/login/", timeout=10)
        assert login.status_code == 200 and "登录" in login.text
        css = next(
            line.split('href="')[1].split('"')[0]
            for line in login.text.splitlines()
            if "stylesheet" in line and "/static/" in line
        )
        static = httpx.get(f"{base}{css}", headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert static.status_code == 200
        assert "immutable" in static.headers["cache-control"]
        assert static.headers.get("content-encoding") == "gzip"

        # the security headers on what nginx passes on (curl -I, as an assessor checks)
        for path, status in (("/accounts/login/", "200"), ("/no-such-page/", "404")):
            head = subprocess.run(
                ["curl", "-sI", f"{base}{path}"], capture_output=True, text=True, check=True
            ).stdout.lower()
            assert head.startswith(f"http/1.1 {status}"), head
            assert "content-security-policy: " in head and "frame-ancestors 'none'" in head, head
            assert "unsafe-inline" not in head, head
            assert "referrer-policy: same-origin" in head and "x-frame-options: deny" in head

        # a websocket through nginx's upgrade: refused for an anonymous viewer, by the app
        async def socket_close_code() -> int | None:
            async with connect(
                f"ws://127.0.0.1:{port}/ws/lectures/1/",
                additional_headers={"Origin": base},
                open_timeout=10,
            ) as ws:
                await asyncio.wait_for(ws.wait_closed(), 10)
                return ws.close_code

        assert asyncio.run(socket_close_code()) == 4401

        # 200 concurrent page loads: no 5xx, PostgreSQL sees at most the pool
        peak = 0
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _server_connections(database))
                time.sleep(0.05)

        async def surge() -> Counter[int]:
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
            async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
                paths = ["/accounts/login/", "/healthz/", "/courses/", "/"] * 50
                responses = await asyncio.gather(*(client.get(p) for p in paths))
            return Counter(r.status_code for r in responses)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            codes = asyncio.run(surge())
        finally:
            stop.set()
            watcher.join()
        assert not [c for c in codes if c >= 500], codes
        assert 0 < peak <= POOL, peak  # PgBouncer holds the server side to the pool

        # a web process that dies is started again; the portal keeps answering meanwhile
        victim = subprocess.run(
            ["pgrep", "-f", f"tcp:port={web}:"], capture_output=True, text=True, check=False
        ).stdout.split()
        assert victim, "no daphne on the first web port"
        os.kill(int(victim[0]), signal.SIGKILL)
        assert httpx.get(f"{base}/healthz/live/", timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        restarted: list[str] = []
        while time.monotonic() < deadline and not restarted:
            restarted = subprocess.run(
                ["pgrep", "-f", f"tcp:port={web}:"], capture_output=True, text=True, check=False
            ).stdout.split()
            time.sleep(0.2)
        assert restarted and restarted != victim, (tmp_path / "serve.log").read_text()[-2000:]
        assert "starting it again" in (tmp_path / "serve.log").read_text()

        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 20
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not group_alive(proc.pid), "a process of make serve outlived it"
        assert proc.returncode == 143
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{base}/healthz/", timeout=2)
    finally:
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
