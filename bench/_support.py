"""Helpers shared by the benchmark scripts (not a benchmark itself: no ``main``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def recreate_database(url: str, *, create: bool = True) -> None:
    """Drop and create the PostgreSQL database named in ``url`` (a bench-only database);
    with ``create=False`` only drop it (big benchmark databases, when done)."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            if create:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def manage_py(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` from the project root as its own process (output captured)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def command_env(db_url: str, **extra: str) -> dict[str, str]:
    """The environment of a management command run as production runs it (DEBUG off, its
    own database), without the test run's switches."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_ALLOW", "ZHIXING_"))},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": db_url,
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def database_fresh(db_url: str, env: dict[str, str]) -> bool:
    """Drop, create and migrate the bench database; False (output on stderr) on failure."""
    recreate_database(db_url)
    done = manage_py(["migrate", "--noinput", "-v0"], env)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
    return done.returncode == 0


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(*, purpose: str) -> tuple[subprocess.Popen[bytes], str, str]:
    """A private, non-persistent redis-server on a free loopback port.

    Returns the process, its base URL (no DB number) and its data folder.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(f"redis-server is needed for {purpose}")
    port = free_port()
    folder = tempfile.mkdtemp(prefix="zx-bench-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}", folder


@dataclass
class Served:
    """``scripts/serve.sh`` (``make serve``) running in its own process group."""

    process: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:PORT (nginx)
    folder: Path
    log: IO[str]


def serve_start(
    *, env: dict[str, str], prefix: str, web: int, web_base_port: int, **extra: str
) -> Served:
    """Start the production topology on free ports with its own static/media folders and
    wait (up to 180 s) until ``/healthz/`` answers 200."""
    import httpx

    port, folder = free_port(), Path(f"/tmp/{prefix}-{uuid.uuid4().hex[:8]}")
    serve_env = {
        **env,
        "PY": sys.executable,
        "PORT": str(port),
        "WEB_PROCESSES": str(web),
        "WEB_BASE_PORT": str(web_base_port),
        "PGBOUNCER_PORT": str(free_port()),
        "SERVE_DIR": str(folder / "serve"),
        "STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
        **extra,
    }
    folder.mkdir(mode=0o755)
    log = (folder / "serve.log").open("w")
    process = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "serve.sh")],
        cwd=ROOT,
        env=serve_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    served = Served(process, f"http://127.0.0.1:{port}", folder, log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{served.base}/healthz/", timeout=5).status_code == 200:
                return served
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            serve_stop(served)
            raise SystemExit((folder / "serve.log").read_text()[-3000:])
        time.sleep(0.5)
    serve_stop(served)
    raise SystemExit("make serve did not become healthy within 180 s")


def serve_stop(served: Served) -> None:
    try:
        os.killpg(served.process.pid, signal.SIGTERM)
        served.process.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(served.process.pid, signal.SIGKILL)
    served.log.close()
