"""Running a ``bench/*.py`` at CI size from a test: its environment, on a fresh database of
the test server, dropped afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


@contextmanager
def bench_env(*, database_var: str, prefix: str, **extra: str) -> Iterator[dict[str, str]]:
    """The benchmark's environment with ``database_var`` naming a new database."""
    db = connection.settings_dict
    url = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{prefix}_{uuid.uuid4().hex[:8]}"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ZHIXING_"))},
        database_var: url,
        "PYTHONPATH": str(settings.BASE_DIR),
        **extra,
    }
    try:
        yield env
    finally:
        sys.path.insert(0, str(settings.BASE_DIR / "bench"))
        from _support import recreate_database

        recreate_database(url, create=False)


def bench_run(
    script: str, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
