"""A CI-sized run of ``bench/import_directory.py``: units, cadres as CSV (first import and
an unchanged re-run) and as XLSX with moves and new numbers, each as its own process."""

from __future__ import annotations

import json

import pytest

from tests.bench_support import bench_env, bench_run

pytestmark = pytest.mark.slow


def test_import_bench_runs_small(db: None) -> None:
    with bench_env(database_var="BENCH_IMPORT_DATABASE_URL", prefix="zx_import") as env:
        done = bench_run(
            "bench/import_directory.py", ["--json", "--rows", "3000", "--villages", "300"], env
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[0])
    assert result["cadres_csv_first"]["summary"].startswith("created=3000 ")
    assert result["cadres_csv_again"]["summary"] == (
        "created=0 updated=0 moved=0 deactivated=0 unchanged=3000 errors=0"
    )
    assert result["cadres_xlsx_changes"]["summary"] == (
        "created=0 updated=30 moved=30 deactivated=0 unchanged=2940 errors=0"
    )
    assert result["cadres_csv_first"]["peak_rss_mb"] < 500
