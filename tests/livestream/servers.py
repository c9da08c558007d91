"""Start real daphne processes (production settings) for socket-level tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def group_alive(pgid: int) -> bool:
    """Is any process of the process group ``pgid`` still alive?"""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _database_zero(redis_url: str) -> str:
    if not redis_url:
        return ""
    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(path="/0"))


def production_env(
    *, redis_url: str, prefix: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,  # sessions made by the tests must verify
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        # the derived databases (broker, layer, cache) from 0, as before REDIS_URL's number
        # was honoured; the test's own database keeps the live state
        "REDIS_URL": _database_zero(redis_url),
        "LIVE_REDIS_URL": redis_url,
        "LIVE_REDIS_PREFIX": prefix,
        "LIVE_DIRECT_WRITE": "on",
        "LIVE_VOTES_INTERVAL_SECONDS": "0.5",
        "LIVE_QUEUE_INTERVAL_SECONDS": "0.5",
        "LIVE_VIEWERS_INTERVAL_SECONDS": "60",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(extra or {})
    return env


def embedded_env(database: Path) -> dict[str, str]:
    """The embedded default in a child process: a SQLite file, no Redis."""
    env = production_env(redis_url="", prefix="zxsqlite:")
    for key in ("REDIS_URL", "LIVE_REDIS_URL", "ATTENDANCE_REDIS_URL", "NOTIFY_REDIS_URL"):
        env[key] = ""
    env["DATABASE_URL"] = f"sqlite:///{database}"
    env["LIVE_DIRECT_WRITE"] = "auto"
    env["LIVE_VIEWERS_INTERVAL_SECONDS"] = "60"
    return env


def run_python(env: dict[str, str], *args: str) -> str:
    """Run ``python ARGS`` in the project with ``env``; its stdout (fails on an error)."""
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


@contextmanager
def daphne(env: dict[str, str], *, log: Path) -> Iterator[int]:
    """One daphne process on a free port; yields the port."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
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
                "portal.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"daphne exited: {log.read_text()[-2000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("daphne did not start") from None
                    time.sleep(0.1)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
