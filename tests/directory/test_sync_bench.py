"""A CI-sized run of ``bench/sync_zwdd.py``: the fake platform and the sync command, each in
its own process; first sync, an unchanged one, then moves and a removed party school."""

from __future__ import annotations

import json

import pytest

from tests.bench_support import bench_env, bench_run

pytestmark = pytest.mark.slow


def test_sync_bench_runs_small(db: None) -> None:
    with bench_env(database_var="BENCH_SYNC_DATABASE_URL", prefix="zx_sync") as env:
        done = bench_run(
            "bench/sync_zwdd.py", ["--json", "--counties", "2", "--employees", "600"], env
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[0])
    assert result["organisations"] == 1 + 11 + 2 * 34
    assert result["first"]["cadres"].startswith("cadres: created=600 ")
    assert result["again"]["cadres"] == (
        "cadres: created=0 updated=0 moved=0 deactivated=0 unchanged=600 errors=0"
    )
    # 1% moved (6), the first county's party school removed: its cadres deactivated
    changed = result["changed"]["cadres"]
    assert "moved=6 " in changed and "deactivated=0 " not in changed, changed
