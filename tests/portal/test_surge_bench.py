"""A CI-sized run of ``bench/surge.py`` (issue 12 §6), so the production topology and its
measurement cannot rot: ``make serve`` with two web processes, signed-in page loads, a hall
signing in from one address, websocket connects beside a bare server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.slow

POOL = 5


def test_surge_bench_runs_small(redis_url: str) -> None:
    db = connection.settings_dict
    name = f"zx_surge_{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ZHIXING_"))},
        "BENCH_SURGE_DATABASE_URL": (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{name}"
        ),
        "BENCH_SURGE_REDIS_URL": os.environ.get(
            "ZHIXING_TEST_SURGE_REDIS_URL", "redis://127.0.0.1:6379/8"
        ),
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                "bench/surge.py",
                "--json",
                "--clients",
                "10",
                "--requests",
                "60",
                "--sign-ins",
                "12",
                "--sockets",
                "40",
                "--pool",
                str(POOL),
                "--storm",
                "40",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        result = json.loads(done.stdout.strip().splitlines()[0])
        assert result["page"]["errors_5xx"] == 0, result
        assert result["page"]["codes"] == {"200": 60}, result
        assert 0 < result["pg_connections_max"] <= POOL, result
        assert result["sign_in"]["signed_in"] == 12, result  # one address, none refused
        assert result["ws_portal"]["failed"] == 0 and result["ws_bare"]["failed"] == 0, result
        assert result["ws_ratio"] > 0
        assert 0 < result["weight"]["kib"] <= 300, result["weight"]  # the room's first load
        # SIGKILL of one of the two web processes mid-lecture: its sockets come back through
        # the other (and the restarted one) and miss none of the questions published meanwhile
        storm = result["storm"]
        assert storm["killed"] and storm["dropped"] > 0, storm
        assert storm["reconnected"] == storm["dropped"], storm
        assert storm["all_back_s"] <= 30 and storm["missing"] == 0, storm
        summary = done.stdout.strip().splitlines()
        assert summary[-2].startswith("surge (2 web)") and summary[-1].startswith("storm:")
    finally:
        sys.path.insert(0, str(settings.BASE_DIR / "bench"))
        from _support import recreate_database

        recreate_database(env["BENCH_SURGE_DATABASE_URL"], create=False)
