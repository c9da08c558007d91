"""Attendance report speed on a seeded PostgreSQL database (issue 5 benchmarks).

Usage (from the project root)::

    .venv/bin/python bench/report_query.py [--cadres 296000] [--requests 50] [--reuse] [--json]

Steps:

1. **Seed** (unless ``--reuse`` finds the database already seeded with ``--cadres``): drop
   and re-create ``BENCH_REPORT_DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432/zhixing_reportbench``), migrate, then
   ``manage.py seed_demo --cadres N --attendance all`` as its own process; the attendance
   insert and the summaries rebuild are reported separately (the seed's ``-v2`` laps).
2. **Rebuild**: ``summaries_rebuild()`` on the seeded database (the repair command's work:
   every summary recomputed from raw rows; rows whose snapshot is right are not rewritten).
3. **Reports**: in this process, through Django's test ``Client`` (the whole middleware,
   view, template and ORM path of a real request, minus the ASGI server and the network),
   production settings (``DEBUG=false``): ``--requests`` timed requests per case after 3
   warm-up requests, p50/p95/max in ms. Cases: the province report for one lecture and for
   the whole programme (signed in as ``organiser`` and as the superuser ``admin``), the
   reports of several counties (one lecture; as ``organiser``), the ``school`` account's
   own county (西湖区; lecture and programme).
4. **CSV**: the per-cadre CSV of the smallest unit with at least 100,000 cadres in its
   subtree (the province when none is that small; at ``--cadres 296000`` that is the
   province's ~296,000 rows) for one lecture, and (informational, no target) the follow-up
   list of the same unit's enrolled cadres who did not attend: time to first byte, total
   time, rows, and the RSS growth of the serving process while the response streams
   (each download runs in a fresh process, RSS sampled at every chunk).

Ends with a one-line summary against the targets (p95: province lecture ≤ 200 ms,
programme ≤ 500 ms, county ≤ 100 ms; CSV first byte ≤ 1 s and RSS growth < 100 MB).
Exit 1 when a target is missed or a request fails. The database is dropped at the end
unless ``--keep`` or ``--reuse`` is given (the 296,000-cadre database takes ~2 GB).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/zhixing_reportbench"
sys.path.insert(0, str(ROOT))
from _support import manage_py as manage  # noqa: E402
from _support import recreate_database  # noqa: E402

TARGET_MS = {"province lecture": 200.0, "province programme": 500.0, "county": 100.0}
CSV_FIRST_BYTE_S = 1.0
CSV_RSS_MB = 100.0
COUNTIES = ("330106000000", "330102000000", "330110000000", "330203000000", "330302000000")
WARM_UP = 3


@dataclass
class Case:
    name: str
    target: str  # a TARGET_MS key, or "" for an informational row
    user: str
    query: dict[str, Any]
    ms: list[float] = field(default_factory=list)
    status: set[int] = field(default_factory=set)

    def quantile(self, q: float) -> float:
        values = sorted(self.ms)
        return values[min(len(values) - 1, max(0, round(q * len(values) + 0.5) - 1))]


@dataclass
class Stream:
    name: str
    url: str
    user: str
    status: int = 0
    rows: int = 0
    first_byte_s: float = 0.0
    total_s: float = 0.0
    rss_base_mb: float = 0.0  # the serving process before the request
    rss_growth_mb: float = 0.0
    target: bool = True  # held to the CSV targets (else informational)


def seeded_cadres() -> int:
    """Generated cadres in the database, or -1 when it is not a seeded portal database."""
    from django.db import connection
    from django.db.utils import DatabaseError

    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM portal_user WHERE username ~ '^gb[0-9]{6}$'"
                " AND EXISTS (SELECT 1 FROM courses_attendance)"
            )
            return int(cursor.fetchone()[0])
    except DatabaseError:
        return -1


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_cases(cases: list[Case], requests: int) -> None:
    from django.test import Client

    from portal.models import User

    clients: dict[str, Client] = {}
    for case in cases:
        client = clients.get(case.user)
        if client is None:
            client = clients[case.user] = Client()
            client.force_login(User.objects.get(username=case.user))
        for i in range(WARM_UP + requests):
            started = time.perf_counter()
            response = client.get("/reports/attendance/", case.query)
            elapsed = (time.perf_counter() - started) * 1000
            case.status.add(response.status_code)
            if i >= WARM_UP:
                case.ms.append(elapsed)


def run_stream(stream: Stream) -> None:
    from django.test import Client

    from portal.models import User

    client = Client()
    client.force_login(User.objects.get(username=stream.user))
    client.get("/reports/attendance/?format=html")  # load the view modules and templates
    gc.collect()
    base = peak = rss_mb()
    started = time.perf_counter()
    response: Any = client.get(stream.url)
    stream.status = response.status_code
    newlines = 0
    first = None
    for chunk in response.streaming_content if response.streaming else [response.content]:
        if first is None:
            first = time.perf_counter() - started
        newlines += bytes(chunk).count(b"\n")
        peak = max(peak, rss_mb())
    response.close()
    stream.total_s = time.perf_counter() - started
    stream.first_byte_s = first if first is not None else stream.total_s
    stream.rows = max(0, newlines - 1)  # minus the header line
    stream.rss_base_mb, stream.rss_growth_mb = base, peak - base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cadres", type=int, default=296_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per case")
    parser.add_argument("--reuse", action="store_true", help="keep a database seeded with N")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--stream", help=argparse.SUPPRESS)  # (internal: one CSV download)
    parser.add_argument("--as", dest="user", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.stream:
        import django

        django.setup()
        stream = Stream("", options.stream, options.user)
        run_stream(stream)
        print(json.dumps(asdict(stream)))
        return 0

    url = os.environ.get("BENCH_REPORT_DATABASE_URL", DEFAULT_URL)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-report-query-" + "x" * 40,
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)  # locmem cache; reports need only the database
    static = tempfile.TemporaryDirectory(prefix="zx-bench-static-")
    env["STATIC_ROOT"] = static.name  # production settings serve hashed (manifest) names
    collected = manage(["collectstatic", "--noinput", "-v0"], env)
    if collected.returncode != 0:
        sys.stderr.write(collected.stdout + collected.stderr)
        return 1
    os.environ.clear()
    os.environ.update(env)
    import django

    result: dict[str, Any] = {"benchmark": "report_query", "cadres": options.cadres}
    seeded = -1
    if options.reuse:
        django.setup()
        seeded = seeded_cadres()
        from django.db import connection

        connection.close()
    if seeded != options.cadres:
        recreate_database(url)
        migrated = manage(["migrate", "--noinput", "-v0"], env)
        if migrated.returncode != 0:
            sys.stderr.write(migrated.stdout + migrated.stderr)
            return 1
        started = time.perf_counter()
        seed = manage(
            ["seed_demo", "--cadres", str(options.cadres), "--attendance", "all", "-v2"],
            {**env, "DEBUG": "true"},
        )
        result["seed_s"] = round(time.perf_counter() - started, 1)
        if seed.returncode != 0:
            sys.stderr.write(seed.stdout + seed.stderr)
            return 1
        laps = dict(re.findall(r"^\s+(.+?): ([0-9.]+) s$", seed.stdout, re.MULTILINE))
        result["seed_laps_s"] = {k: float(v) for k, v in laps.items()}
    django.setup()

    from django.db import connection

    from courses.models import Attendance, Lecture, Programme
    from courses.summaries.rebuild import summaries_rebuild
    from courses.summaries.totals import headcounts
    from demo import programme as demo
    from portal.models import OrgUnit

    result["attendance_rows"] = Attendance.objects.count()
    rebuilt = summaries_rebuild()
    result["rebuild_s"] = round(rebuilt.seconds, 1)
    result["summary_rows"] = rebuilt.lecture_rows + rebuilt.programme_rows

    programme = Programme.objects.get(title=demo.PROGRAMME_TITLE)
    lecture = Lecture.objects.get(programme=programme, sequence=demo.LIVE_SEQUENCE - 1)
    province = OrgUnit.objects.get(code="330000000000")
    one = {"lecture": lecture.pk, "unit": province.code}
    whole = {"programme": programme.pk, "unit": province.code}
    cases = [
        Case("province, one lecture", "province lecture", "organiser", {**one}),
        Case("province, one lecture (admin)", "province lecture", "admin", {**one}),
        Case("province, programme", "province programme", "organiser", {**whole}),
        Case("province, programme (admin)", "province programme", "admin", {**whole}),
    ]
    names = dict(OrgUnit.objects.filter(code__in=COUNTIES).values_list("code", "name"))
    for code in COUNTIES:
        if code in names:
            cases.append(Case(f"{names[code]}, one lecture", "county", "organiser", {**one}))
            cases[-1].query["unit"] = code
    xihu = {"unit": "330106000000"}
    cases += [
        Case("西湖区, one lecture (school)", "county", "school", {**one, **xihu}),
        Case("西湖区, programme (school)", "", "school", {**whole, **xihu}),
    ]
    run_cases(cases, options.requests)

    counts = headcounts()
    big = [u for u, n in counts.items() if n >= 100_000]
    chosen = min(big, key=lambda u: counts[u]) if big else province.pk
    unit = OrgUnit.objects.get(pk=chosen)
    code = unit.code or province.code
    streams = [
        Stream(
            f"cadre CSV, {unit.name}",
            f"/reports/attendance/?lecture={lecture.pk}&unit={code}&view=cadres&format=csv",
            "organiser",
        ),
        Stream(
            f"follow-up CSV, {unit.name}",
            f"/reports/attendance/follow-up/?lecture={lecture.pk}&unit={code}"
            "&kind=not_attended&format=csv",
            "organiser",
            target=False,
        ),
    ]
    for stream in streams:  # each in a fresh process: its RSS growth is the response's alone
        child = subprocess.run(
            [sys.executable, __file__, "--stream", stream.url, "--as", stream.user],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            sys.stderr.write(child.stdout + child.stderr)
            return 1
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        for key in ("status", "rows", "first_byte_s", "total_s", "rss_base_mb", "rss_growth_mb"):
            setattr(stream, key, measured[key])
    connection.close()

    misses: list[str] = []
    for case in cases:
        if case.status != {200}:
            misses.append(f"{case.name}: HTTP {sorted(case.status)}")
        elif case.target and case.quantile(0.95) > TARGET_MS[case.target]:
            misses.append(f"{case.name} p95 {case.quantile(0.95):.0f} ms")
    for stream in streams:
        if stream.status != 200:
            misses.append(f"{stream.name}: HTTP {stream.status}")
        elif not stream.target:
            continue
        elif stream.first_byte_s > CSV_FIRST_BYTE_S or stream.rss_growth_mb >= CSV_RSS_MB:
            misses.append(
                f"{stream.name}: first byte {stream.first_byte_s:.2f} s, "
                f"+{stream.rss_growth_mb:.0f} MB"
            )
    result["cases"] = [
        {
            "name": c.name,
            "user": c.user,
            "query": c.query,
            "p50_ms": round(c.quantile(0.5), 1),
            "p95_ms": round(c.quantile(0.95), 1),
            "max_ms": round(max(c.ms), 1),
            "target_ms": TARGET_MS.get(c.target),
            "status": sorted(c.status),
        }
        for c in cases
    ]
    result["streams"] = [asdict(s) for s in streams]
    result["ok"] = not misses

    if not (options.keep or options.reuse):
        recreate_database(url, create=False)  # the 296,000-cadre database takes ~2 GB

    if options.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0 if not misses else 1
    _print(result, options.requests)
    worst = {
        key: max((c.quantile(0.95) for c in cases if c.target == key), default=0.0)
        for key in TARGET_MS
    }
    csv = streams[0]
    print(
        f"reports, {options.cadres} cadres, {result['attendance_rows']} attendance rows: p95 "
        f"province lecture {worst['province lecture']:.0f} ms (≤200), programme "
        f"{worst['province programme']:.0f} ms (≤500), county {worst['county']:.0f} ms (≤100); "
        f"{csv.rows}-row CSV first byte {csv.first_byte_s:.2f} s (≤1), "
        f"+{csv.rss_growth_mb:.1f} MB (<100); "
        + ("ok" if not misses else "MISSED: " + "; ".join(misses))
    )
    return 0 if not misses else 1


def _print(result: dict[str, Any], requests: int) -> None:
    if "seed_s" in result:
        laps = result["seed_laps_s"]
        attendance = next((v for k, v in laps.items() if k.startswith("insert attendance")), 0)
        print(
            f"seed_demo --cadres {result['cadres']} --attendance all: {result['seed_s']} s "
            f"(attendance insert {attendance} s, summaries rebuild "
            f"{laps.get('report summaries', 0)} s)"
        )
    print(
        f"{result['attendance_rows']} attendance rows; summaries_rebuild() "
        f"{result['rebuild_s']} s ({result['summary_rows']} summary rows)"
    )
    print()
    print(
        f"{f'report ({requests} requests each)':<44} {'p50':>8} {'p95':>8} {'max':>8} {'target':>8}"
    )
    print("-" * 80)
    for c in result["cases"]:
        target = f"{c['target_ms']:.0f}" if c["target_ms"] else "-"
        print(
            f"{c['name']:<44} {c['p50_ms']:>6.0f}ms {c['p95_ms']:>6.0f}ms {c['max_ms']:>6.0f}ms "
            f"{target:>6}ms"
        )
    print()
    print(f"{'stream':<36} {'rows':>8} {'1st byte':>9} {'total':>8} {'RSS':>8} {'RSS +':>8}")
    print("-" * 80)
    for s in result["streams"]:
        print(
            f"{s['name']:<36} {s['rows']:>8} {s['first_byte_s']:>8.2f}s {s['total_s']:>7.1f}s "
            f"{s['rss_base_mb']:>6.0f}MB {s['rss_growth_mb']:>6.1f}MB"
        )
    print()


if __name__ == "__main__":
    sys.exit(main())
