"""A CI-sized run of ``bench/surge.py`` (issue 12 §6), so the production topology and its
measurement cannot rot: ``make serve`` with two web processes, signed-in page loads, a hall
signing in from one address, websocket connects beside a bare server."""

from __future__ import annotations

import json
import os

import pytest

from tests.bench_support import bench_env, bench_run

pytestmark = pytest.mark.slow

POOL = 5


def test_surge_bench_runs_small(redis_url: str) -> None:
    redis = os.environ.get("ZHIXING_TEST_SURGE_REDIS_URL", "redis://127.0.0.1:6379/8")
    with bench_env(
        database_var="BENCH_SURGE_DATABASE_URL", prefix="zx_surge", BENCH_SURGE_REDIS_URL=redis
    ) as env:
        done = bench_run(
            "bench/surge.py",
            [
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
            env,
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
