"""Flush 200,000 users' buffered heartbeat windows from Redis into PostgreSQL.

Usage (from the project root)::

    .venv/bin/python bench/attendance_flush.py [--users 200000] [--windows 2] [--json]

Steps: drop and re-create ``BENCH_ATTEND_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_attendbench``) and migrate it; load N cadres
(COPY; not timed); start a private ``redis-server`` for the buffer; then

1. **buffer**: credit ``--windows`` heartbeat windows per user through the same Lua script
   the heartbeat path uses (pipelined, so this is the buffer's cost, not the websocket's);
2. **flush (insert)**: one ``attendance_flush`` creating N ``Attendance`` rows;
3. **flush (update)**: credit another window per user and flush again (the ON CONFLICT
   path adding seconds to existing rows), then check every total.

Ends with one summary line. Exit 1 if a flush took more than ``--limit`` seconds (default
10, ARCHITECTURE.md §4) or a total is wrong.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/zhixing_attendbench"
sys.path.insert(0, str(ROOT))
from _support import recreate_database, start_redis  # noqa: E402


def load(n: int) -> tuple[int, list[int]]:
    """N cadres and one 90-minute lecture that started 10 minutes ago."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from courses.models import Lecture, Programme
    from portal.models import OrgUnit

    province = OrgUnit.add_root(name="浙江省", kind="province", code="330000000000")
    programme = Programme.objects.create(title="人工智能专题培训", organiser_unit=province)
    lecture = Lecture.objects.create(
        programme=programme,
        sequence=1,
        title="第1讲 人工智能新浪潮",
        starts_at=timezone.now() - timedelta(minutes=10),
        duration_minutes=90,
    )
    now = timezone.now().isoformat()
    buf = io.StringIO()
    for i in range(n):
        buf.write(f"!\tf\tc{i}\t\t\t\tf\tt\t{now}\t干部{i}\t\\N\t{province.pk}\t\n")
    buf.seek(0)
    with connection.cursor() as cur:
        cur.copy_expert(
            "COPY portal_user (password, is_superuser, username, first_name, last_name, email,"
            " is_staff, is_active, date_joined, full_name, phone, unit_id, job_title)"
            " FROM STDIN",
            buf,
        )
        cur.execute("SELECT id FROM portal_user ORDER BY id")
        user_ids = [int(r[0]) for r in cur.fetchall()]
    return lecture.pk, user_ids


def credit_windows(lecture_id: int, user_ids: list[int], first_window: int, count: int) -> float:
    """Credit ``count`` windows per user through the heartbeat Lua script; returns seconds."""
    from courses.attendance.buffer import LIVE, RedisBuffer, buffer_get

    buffer = buffer_get()
    assert isinstance(buffer, RedisBuffer)
    started = time.perf_counter()
    now = int(time.time())
    for w in range(first_window, first_window + count):
        for start in range(0, len(user_ids), 5000):
            pipe = buffer.client.pipeline(transaction=False)
            for uid in user_ids[start : start + 5000]:
                buffer._credit(
                    keys=[
                        f"{buffer.prefix}last:{lecture_id}:{uid}:{LIVE}",
                        f"{buffer.prefix}total:{lecture_id}:{uid}",
                        buffer.pending_key,
                    ],
                    args=[w, 30, LIVE, f"{lecture_id}:{uid}", now, 120, 86400, "0", "0"],
                    client=pipe,
                )
            pipe.execute()
    return time.perf_counter() - started


_SQL_TIMES: dict[str, list[float]] = {}


def _sql_timer(execute, sql, params, many, context):
    """Django execute_wrapper: time each statement, keyed by its first words."""
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        key = " ".join(sql.split()[:4])[:60]
        _SQL_TIMES.setdefault(key, []).append(time.perf_counter() - started)


def _sql_report(total: float) -> None:
    spent = 0.0
    print(f"update flush {total:.2f} s; SQL statements by total time:")
    for key, times in sorted(_SQL_TIMES.items(), key=lambda kv: -sum(kv[1])):
        spent += sum(times)
        print(f"  {sum(times):7.2f} s  x{len(times):<4} {key}")
    print(f"  {total - spent:7.2f} s  outside SQL (Redis read, Python, COPY, COMMIT)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--windows", type=int, default=2, help="windows per user per flush")
    parser.add_argument("--limit", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="print where the update flush spends its time"
    )
    options = parser.parse_args()

    url = os.environ.get("BENCH_ATTEND_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    redis_proc, redis_base, _folder = start_redis(purpose="the attendance buffer")
    redis_url = f"{redis_base}/0"
    env = {
        "DATABASE_URL": url,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "ATTENDANCE_REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.pop("REDIS_URL", None)
    os.environ.update(env)
    try:
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**os.environ},
            capture_output=True,
            text=True,
            check=False,
        )
        if migrated.returncode != 0:
            print(migrated.stderr)
            return 1
        import django

        django.setup()
        from courses.attendance.credit import attendance_flush
        from courses.models import Attendance

        lecture_id, user_ids = load(options.users)
        n = len(user_ids)
        base = int(time.time()) // 30
        fill = credit_windows(lecture_id, user_ids, base, options.windows)
        t0 = time.perf_counter()
        first = attendance_flush()
        insert_s = time.perf_counter() - t0
        credit_windows(lecture_id, user_ids, base + options.windows, options.windows)
        t0 = time.perf_counter()
        if options.profile:
            from django.db import connection

            with connection.execute_wrapper(_sql_timer):
                second = attendance_flush()
        else:
            second = attendance_flush()
        update_s = time.perf_counter() - t0
        if options.profile:
            _sql_report(update_s)
        expected = 2 * options.windows * 30
        wrong = Attendance.objects.exclude(live_seconds=expected).count()
        rows = Attendance.objects.count()
        result = {
            "users": n,
            "buffer_credits_per_s": round(n * options.windows / fill),
            "flush_insert_s": round(insert_s, 2),
            "flush_update_s": round(update_s, 2),
            "rows": rows,
            "wrong_totals": wrong,
            "batches": first.batches + second.batches,
        }
        if options.json:
            print(json.dumps(result))
        ok = rows == n and wrong == 0 and max(insert_s, update_s) <= options.limit
        print(
            f"attendance flush: {n} users, insert {insert_s:.2f} s, update {update_s:.2f} s "
            f"(limit {options.limit:.0f} s), buffer {result['buffer_credits_per_s']}/s, "
            f"{'OK' if ok else 'FAIL'}"
        )
        return 0 if ok else 1
    finally:
        redis_proc.terminate()
        redis_proc.wait(20)


if __name__ == "__main__":
    raise SystemExit(main())
