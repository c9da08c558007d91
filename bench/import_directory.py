"""The province's directory into PostgreSQL: ``manage.py import_directory`` on generated
files (issue 14).

Usage (from the project root)::

    .venv/bin/python bench/import_directory.py [--rows 300000] [--villages 25000] [--json]

Drops and re-creates ``BENCH_IMPORT_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_importbench``), migrates, then runs the command
as its own process (DEBUG off) and measures wall time and peak RSS (``ru_maxrss`` of the
child) for:

1. the units file (a province, 11 cities, 90 counties, townships and ``--villages``
   villages, with an organisation department and a party school per county), CSV;
2. ``--rows`` cadres spread over the units, CSV (UTF-8) — a first import (all created);
3. the same file again (all unchanged: nothing written);
4. the same cadres as XLSX (the first sheet, read streaming), with 1% of them moved to
   another unit and 1% changed phone numbers.

Ends with a one-line summary; exit 1 when an import failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/zhixing_importbench"
sys.path.insert(0, str(ROOT / "bench"))
from _support import command_env, database_fresh, recreate_database  # noqa: E402

CADRE_HEADER = ["干部编号", "姓名", "手机号", "单位编码", "浙政钉账号", "职级", "状态"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


def units_rows(villages: int) -> list[list[str]]:
    rows = [["单位编码", "单位名称", "上级单位编码", "单位类型"], ["330000", "浙江省", "", "省"]]
    townships_per_county = max(1, villages // (90 * 18))
    counties = []
    for c in range(11):
        city = f"33{c + 1:02d}"
        rows.append([city, f"第{c + 1}市", "330000", "市"])
        for k in range(90 // 11 + (1 if c < 90 % 11 else 0)):
            county = f"{city}{k + 1:02d}"
            counties.append(county)
            rows.append([county, f"{city}市第{k + 1}区", city, "县"])
            rows.append([f"{county}-ZZB", f"{county}区委组织部", county, "组织部"])
            rows.append([f"{county}-DX", f"{county}区委党校", county, "党校"])
    leaves: list[str] = []
    made = 0
    for county in counties:
        for t in range(townships_per_county):
            township = f"{county}{t + 1:03d}"
            rows.append([township, f"{township}街道", county, "乡"])
            leaves.append(township)
            for v in range(18):
                if made >= villages:
                    break
                village = f"{township}{v + 1:03d}"
                rows.append([village, f"{village}村", township, "村"])
                leaves.append(village)
                made += 1
    return rows


def cadre_row(i: int, unit: str, phone_shift: int = 0) -> list[str]:
    name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)] + GIVEN[(i // 3) % len(GIVEN)]
    return [
        f"G{i:08d}",
        name,
        f"1{3 + (i + phone_shift) % 7}{(i + phone_shift) % 1_000_000_000:09d}",
        unit,
        f"GE_{i:08d}" if i % 3 else "",
        "科员" if i % 5 else "副科长",
        "在职",
    ]


def write_csv(path: Path, rows: Any) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


def write_xlsx(path: Path, rows: Any) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("干部")
    for row in rows:
        sheet.append(row)
    book.save(path)


# Runs the command and reports its own peak RSS (a fresh parent per import, so
# RUSAGE_CHILDREN is that one child's).
WRAPPER = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:]).returncode; "
    "sys.stderr.write('MAXRSS %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
    "sys.exit(code)"
)


def run_import(env: dict[str, str], kind: str, path: Path) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            WRAPPER,
            sys.executable,
            "manage.py",
            "import_directory",
            "--kind",
            kind,
            str(path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    seconds = time.monotonic() - started
    peak_kib = int(done.stderr.strip().splitlines()[-1].split()[1])
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
    return {
        "ok": done.returncode == 0,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "summary": lines[-1] if lines else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--villages", type=int, default=25_000)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    db_url = os.environ.get("BENCH_IMPORT_DATABASE_URL", DEFAULT_DB)
    env = command_env(db_url)
    if not database_fresh(db_url, env):
        return 1
    folder = Path(f"/tmp/zx-import-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    units = units_rows(options.villages)
    leaves = [r[0] for r in units[1:] if r[3] in ("乡", "村")]
    write_csv(folder / "units.csv", units)
    cadres = [CADRE_HEADER] + [cadre_row(i, leaves[i % len(leaves)]) for i in range(options.rows)]
    write_csv(folder / "cadres.csv", cadres)
    changed = [CADRE_HEADER]
    for i in range(options.rows):
        moved = i % 100 == 1
        new_phone = i % 100 == 2
        unit = leaves[(i + 7) % len(leaves)] if moved else leaves[i % len(leaves)]
        changed.append(cadre_row(i, unit, phone_shift=500_000_000 if new_phone else 0))
    write_xlsx(folder / "cadres.xlsx", changed)
    result: dict[str, Any] = {
        "benchmark": "import_directory",
        "rows": options.rows,
        "units": len(units) - 1,
        "csv_mb": round((folder / "cadres.csv").stat().st_size / 2**20, 1),
        "xlsx_mb": round((folder / "cadres.xlsx").stat().st_size / 2**20, 1),
    }
    result["units_import"] = run_import(env, "units", folder / "units.csv")
    result["cadres_csv_first"] = run_import(env, "cadres", folder / "cadres.csv")
    result["cadres_csv_again"] = run_import(env, "cadres", folder / "cadres.csv")
    result["cadres_xlsx_changes"] = run_import(env, "cadres", folder / "cadres.xlsx")
    for name in ("cadres_csv_first", "cadres_csv_again", "cadres_xlsx_changes"):
        run = result[name]
        run["rows_per_s"] = round(options.rows / max(run["seconds"], 1e-6))
    recreate_database(db_url, create=False)
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    print(
        json.dumps(result, ensure_ascii=False)
        if options.json
        else json.dumps(result, ensure_ascii=False, indent=1)
    )
    first, again, xlsx = (
        result["cadres_csv_first"],
        result["cadres_csv_again"],
        result["cadres_xlsx_changes"],
    )
    print(
        f"import_directory: {result['units']} units in {result['units_import']['seconds']} s; "
        f"{options.rows} cadres CSV {first['seconds']} s ({first['rows_per_s']}/s, "
        f"peak {first['peak_rss_mb']} MB), again {again['seconds']} s ({again['summary']}), "
        f"XLSX with 1% moved + 1% new phones {xlsx['seconds']} s ({xlsx['rows_per_s']}/s; "
        f"{xlsx['summary']})"
    )
    ok = all(
        result[k]["ok"]
        for k in ("units_import", "cadres_csv_first", "cadres_csv_again", "cadres_xlsx_changes")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
