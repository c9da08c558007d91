"""A CI-sized run of ``bench/moderation_live.py`` (issue 19 §5), so the measurement of the
moderators' console during a question flood cannot rot: ``make serve`` with two web
processes, askers and two moderators on websockets through nginx, acknowledgements timed."""

from __future__ import annotations

import json

import pytest

from tests.bench_support import bench_env, bench_run

pytestmark = pytest.mark.slow

CADRES = 40


def test_moderation_live_bench_runs_small() -> None:
    # its own database (bench_env) and its own redis-server (the bench starts one), so
    # parallel runs with other ZHIXING_TEST_DB / ZHIXING_TEST_REDIS_DB do not meet
    with bench_env(database_var="BENCH_MODLIVE_DATABASE_URL", prefix="zx_modlive") as env:
        done = bench_run(
            "bench/moderation_live.py",
            [
                "--json",
                "--cadres",
                str(CADRES),
                "--window",
                "8",
                "--action-interval",
                "0.3",
                "--idle",
                "2",
            ],
            env,
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(next(line for line in lines if line.startswith("{")))
    asks = result["asks"]
    assert asks["accepted"] == CADRES and not asks["errors"], asks  # one each: no limit hit
    assert result["connect"]["askers"] == CADRES, result["connect"]
    # both moderators worked the queue and every action was answered
    handled = sum(result["acks"][k]["n"] for k in ("approve", "reject", "merge"))
    assert handled >= 5 and result["acks"]["claim"]["n"] >= 2, result["acks"]
    assert all(m["handled"] > 0 and not m["closes"] for m in result["moderators"]), result
    assert not result["timeouts"], result["timeouts"]
    assert result["every_ack"]["p99"] is not None and result["every_ack"]["p99"] > 0
    # the console saw every accepted question, coalesced (at most ~1 flush a second)
    console = result["console"]
    assert console["not_seen"] == 0 and console["new"] == CADRES, console
    assert console["flushes_per_s"] <= 1.5, console
    rejects = result["acks"]["reject"]["n"]  # two moderators may reject one question
    assert 0 < asks["told_rejected"] <= rejects or rejects == 0, result
    assert [o["ok"] for o in result["console_reopens"]] == [True] * 3, result["console_reopens"]
    assert result["server_log"]["exceptions"] == 0, result["server_log"]
    assert result["cpu"]["daphne_s"] > 0, result["cpu"]
    assert lines[-1].startswith(f"{CADRES}/{CADRES} asks accepted"), lines[-1]
