"""Time ``manage.py seed_demo --cadres N`` against a fresh PostgreSQL database.

Usage (from the project root)::

    .venv/bin/python bench/seed_demo.py [--cadres 296000] [--limit 90] [--json]

It drops and re-creates the database named in ``BENCH_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_seedbench``), migrates it (not timed), then
times the seed command as a separate process, the way an operator would run it
(``time manage.py seed_demo --cadres 296000``), and ends with a one-line summary (the row
``make bench`` shows). The exit status is 1 when the seed fails or takes longer than
``--limit`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
from _support import recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/zhixing_seedbench"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cadres", type=int, default=296_000)
    parser.add_argument("--limit", type=float, default=90.0, help="seconds allowed")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead")
    options = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "true"}
    env.pop("REDIS_URL", None)  # the seed needs only the database

    try:
        recreate_database(url)
    except psycopg2.Error as exc:
        sys.stderr.write(f"cannot (re)create the benchmark database at {url}: {exc}\n")
        return 1
    migrated = run(["migrate", "--noinput", "-v0"], env)
    if migrated.returncode != 0:
        sys.stderr.write(migrated.stdout + migrated.stderr)
        return 1

    started = time.perf_counter()
    seeded = run(["seed_demo", "--cadres", str(options.cadres), "-v2"], env)
    elapsed = time.perf_counter() - started
    ok = seeded.returncode == 0 and elapsed <= options.limit
    if seeded.returncode != 0:
        sys.stderr.write(seeded.stdout + seeded.stderr)

    result = {
        "benchmark": "seed_demo",
        "cadres": options.cadres,
        "seconds": round(elapsed, 1),
        "limit_seconds": options.limit,
        "ok": ok,
        "steps": seeded.stdout.strip().splitlines(),
    }
    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for line in result["steps"]:
            print(f"  {line}")
        status = "ok" if ok else "FAIL"
        # The last line is the summary ``make bench`` (scripts/bench.py) puts in its table.
        print(
            f"seed_demo --cadres {options.cadres} on a fresh PostgreSQL database: "
            f"{elapsed:.1f} s (limit {options.limit:.0f} s) {status}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
