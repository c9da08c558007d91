"""The 浙政钉 directory sync (``manage.py sync_zwdd_directory``) against a generated directory
on the fake platform, each in its own process.

Usage (from the project root)::

    .venv/bin/python bench/sync_zwdd.py [--counties 30] [--employees 30000] [--json]

A province root, 11 cities, ``--counties`` counties (each with an organisation department
holding an internal office, a party school, 6 townships of 4 villages), and ``--employees``
spread over them. The fake (``tests/fakes/zwdd.py``: signature check, paging) runs in one
process, the command (DEBUG off, PostgreSQL ``BENCH_SYNC_DATABASE_URL``, a private Redis for
the app token) in another. Three runs: the first sync (all created), the same again (all
unchanged), then with 1% of the employees moved and one county's party school removed.
Reports wall time, the platform calls and calls per second.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/zhixing_syncbench"
sys.path.insert(0, str(ROOT / "bench"))
from _support import (  # noqa: E402
    command_env,
    database_fresh,
    manage_py,
    recreate_database,
    start_redis,
)

# The fake platform's process: build the directory, print the URL, apply the changes when a
# line "change" arrives on stdin, stop at EOF.
FAKE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from tests.fakes.zwdd import ZwddPlatformFake

counties, employees = int(sys.argv[2]), int(sys.argv[3])
api = ZwddPlatformFake().start()
api.add_org("GO_ZJ", "浙江省", type_code="GOV_DIVISION", division="330000000000")
places = []
for c in range(11):
    city = f"33{c + 1:02d}"
    api.add_org(f"GO_{city}", f"第{c + 1}市", parent="GO_ZJ", type_code="GOV_DIVISION",
                division=city + "00000000")
    places.append(f"GO_{city}")
for k in range(counties):
    city = f"33{k % 11 + 1:02d}"
    county = f"{city}{k // 11 + 1:02d}"
    code = f"GO_{county}"
    api.add_org(code, f"{county}区", parent=f"GO_{city}", type_code="GOV_DIVISION",
                division=county + "000000")
    api.add_org(f"{code}_ZZB", f"中共{county}区委组织部", parent=code, division=county)
    api.add_org(f"{code}_ZZB_1", "干部科", parent=f"{code}_ZZB",
                type_code="GOV_INTERNAL_INSTITUTION")
    api.add_org(f"{code}_DX", f"中共{county}区委党校", parent=code, division=county)
    places += [code, f"{code}_ZZB_1", f"{code}_DX"]
    for t in range(6):
        township = f"{county}{t + 1:03d}"
        api.add_org(f"GO_{township}", f"{township}街道", parent=code,
                    type_code="GOV_DIVISION", division=township + "000")
        places.append(f"GO_{township}")
        for v in range(4):
            village = f"{township}{v + 1:03d}"
            api.add_org(f"GO_{village}", f"{village}村", parent=f"GO_{township}",
                        type_code="GOV_DIVISION", division=village)
            places.append(f"GO_{village}")
for i in range(employees):
    api.add_employee(f"GE_{i:08d}", f"干部{i}", org=places[i % len(places)])
print(api.url, len(api.orgs), flush=True)
for line in sys.stdin:
    if line.strip() == "change":
        for i in range(0, employees, 100):
            api.move_employee(f"GE_{i:08d}", to=places[(i + 7) % len(places)])
        api.remove_org(f"GO_{33:02d}{1:02d}{1:02d}_DX")
        print("changed", flush=True)
"""


def run_sync(env: dict[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    done = manage_py(["sync_zwdd_directory"], env)
    seconds = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
    calls = int(lines[-3].split(",")[2].split()[0]) if len(lines) >= 3 else 0
    return {
        "ok": done.returncode == 0,
        "seconds": round(seconds, 1),
        "calls": calls,
        "calls_per_s": round(calls / max(seconds, 1e-6)),
        "units": lines[-2] if len(lines) >= 2 else "",
        "cadres": lines[-1] if lines else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=30)
    parser.add_argument("--employees", type=int, default=30_000)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    db_url = os.environ.get("BENCH_SYNC_DATABASE_URL", DEFAULT_DB)
    redis, redis_url, redis_dir = start_redis(purpose="the sync bench")
    fake = subprocess.Popen(
        [sys.executable, "-c", FAKE, str(ROOT), str(options.counties), str(options.employees)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        assert fake.stdin is not None
        url, organisations = fake.stdout.readline().split()
        env = command_env(
            db_url,
            NOTIFY_REDIS_URL=f"{redis_url}/0",
            ZWDD_API_BASE=url,
            ZWDD_APP_KEY="zk",
            ZWDD_APP_SECRET="zwdd-secret",  # noqa: S106 (the fake platform's)
            ZWDD_TENANT_ID="196729",
        )
        if not database_fresh(db_url, env):
            return 1
        result: dict[str, Any] = {
            "benchmark": "sync_zwdd",
            "organisations": int(organisations),
            "employees": options.employees,
        }
        result["first"] = run_sync(env)
        result["again"] = run_sync(env)
        fake.stdin.write("change\n")
        fake.stdin.flush()
        fake.stdout.readline()
        result["changed"] = run_sync(env)
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(redis_dir, ignore_errors=True)
    recreate_database(db_url, create=False)
    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for name in ("first", "again", "changed"):
            run = result[name]
            print(
                f"{name}: {run['seconds']} s, {run['calls']} calls ({run['calls_per_s']}/s); "
                f"{run['units']}; {run['cadres']}"
            )
    print(
        f"sync ({result['organisations']} organisations, {options.employees} employees): "
        + "; ".join(
            f"{name} {result[name]['seconds']} s / {result[name]['calls']} calls"
            for name in ("first", "again", "changed")
        )
    )
    return 0 if all(result[n]["ok"] for n in ("first", "again", "changed")) else 1


if __name__ == "__main__":
    raise SystemExit(main())
