"""Helpers shared by the benchmark scripts (not a benchmark itself: no ``main``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


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
