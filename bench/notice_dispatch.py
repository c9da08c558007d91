"""Plan 296,000 reminder deliveries and dispatch them against the Aliyun SMS fake.

Usage (from the project root)::

    .venv/bin/python bench/notice_dispatch.py [--cadres 296000] [--latency 0.02]
        [--workers 2] [--concurrency 4] [--json]

Steps: drop and re-create ``BENCH_NOTIFY_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_notifybench``) and migrate it; load N cadres
with phones, enrolled in one programme (COPY; not timed); start the Aliyun SMS fake in its
own process with ``--latency`` seconds per call and a private ``redis-server`` as the Celery
broker; then

1. **planning**: claim the due 1 h reminder and plan it (``reminder_plan``: the inbox row
   and the first push channel row for every cadre, bulk COPY + ON CONFLICT DO NOTHING);
2. **dispatch**: start ``--workers`` Celery workers (threads pool, ``--concurrency`` each),
   kick the SMS dispatchers and time until no SMS row is queued or sending.

Ends with one summary line (the row ``make bench`` shows). Exit 1 if planning took more than
``--plan-limit`` seconds, anything failed, the fake saw a number twice, or a worker sent
fewer than ``--target`` SMS/s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/zhixing_notifybench"
sys.path.insert(0, str(ROOT))
from _support import recreate_database, start_redis  # noqa: E402


def start_fake(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes", "aliyun", "--latency", str(latency)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        raise SystemExit(f"the fake did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def load_cadres(n: int) -> int:
    """N cadres with phones in one township, all enrolled in a programme; returns lecture id."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from courses.models import Enrolment, Lecture, Programme
    from portal.models import OrgUnit

    province = OrgUnit.add_root(name="浙江省", kind="province", code="330000000000")
    township = province.add_child(name="灵隐街道", kind="township", code="330106004000")
    programme = Programme.objects.create(title="人工智能专题培训", organiser_unit=province)
    programme.audience.set([province])
    lecture = Lecture.objects.create(
        programme=programme,
        sequence=1,
        title="第1讲 人工智能新浪潮",
        starts_at=timezone.now() + timedelta(minutes=59),
        duration_minutes=90,
    )
    now = timezone.now().isoformat()
    buf = io.StringIO()
    for i in range(n):
        buf.write(f"!\tf\tc{i}\t\t\t\tf\tt\t{now}\t干部{i}\t{13000000000 + i}\t{township.pk}\t\n")
    buf.seek(0)
    with connection.cursor() as cur:
        cur.copy_expert(
            "COPY portal_user (password, is_superuser, username, first_name, last_name, email,"
            " is_staff, is_active, date_joined, full_name, phone, unit_id, job_title)"
            " FROM STDIN",
            buf,
        )
        cur.execute(
            "INSERT INTO courses_enrolment (user_id, programme_id, source, status, enrolled_at)"
            " SELECT id, %s, 'assigned', %s, now() FROM portal_user",
            [programme.pk, Enrolment.Status.ACTIVE],
        )
    return lecture.pk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cadres", type=int, default=296_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--plan-limit", type=float, default=60.0)
    parser.add_argument("--target", type=float, default=2000.0, help="SMS/s per worker")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    url = os.environ.get("BENCH_NOTIFY_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    fake, fake_url = start_fake(options.latency)
    redis_proc, redis_url, redis_dir = start_redis(purpose="the Celery broker")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "CELERY_BROKER_URL": f"{redis_url}/0",
        "NOTIFY_REDIS_URL": f"{redis_url}/1",
        "NOTIFY_CHANNELS": "sms",
        "NOTIFY_SMS_PROVIDER": "aliyun",
        "NOTIFY_SMS_ENDPOINT": fake_url,
        "NOTIFY_SMS_ACCESS_KEY_ID": "ak",
        "NOTIFY_SMS_ACCESS_KEY_SECRET": "aliyun-secret",
        "NOTIFY_SMS_RATE": "0",
        "NOTIFY_DISPATCH_SECONDS": str(options.timeout),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    os.environ.update(env)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if migrated.returncode != 0:
            sys.stderr.write(migrated.stdout + migrated.stderr)
            return 1
        import django

        django.setup()
        from django.db import connection
        from django.utils import timezone

        from notifications import services
        from notifications.models import Delivery, Reminder

        started = time.perf_counter()
        lecture_id = load_cadres(options.cadres)
        load_s = time.perf_counter() - started
        reminder = Reminder.objects.create(
            lecture_id=lecture_id, kind="reminder_1h", due_at=timezone.now()
        )

        started = time.perf_counter()
        services.reminder_claim_due()
        plan = services.reminder_plan(reminder_id=reminder.pk)
        plan_s = time.perf_counter() - started
        connection.close()

        for i in range(options.workers):
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "portal",
                        "worker",
                        "--pool",
                        "threads",
                        "-c",
                        str(options.concurrency),
                        "--prefetch-multiplier",
                        "1",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "-n",
                        f"bench{i}@%h",
                        "-l",
                        "WARNING",
                    ],
                    cwd=ROOT,
                    env=env,
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(3.0)  # workers connect to the broker
        from notifications.tasks import notice_dispatch_task

        started = time.perf_counter()
        for _ in range(options.workers * options.concurrency):
            notice_dispatch_task.apply_async(args=["sms"])
        open_states = ("queued", "sending")
        deadline = time.monotonic() + options.timeout
        while time.monotonic() < deadline:
            left = Delivery.objects.filter(channel="sms", status__in=open_states).count()
            if left == 0:
                break
            time.sleep(0.5)
        dispatch_s = time.perf_counter() - started
        counts = dict(
            Delivery.objects.filter(channel="sms")
            .values_list("status")
            .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
            .values_list("status", "n")
        )
    finally:
        for worker in workers:
            stop(worker)
        stop(fake)
        stop(redis_proc)
        shutil.rmtree(redis_dir, ignore_errors=True)

    sms = counts.get("accepted", 0)
    per_worker = sms / dispatch_s / max(1, options.workers)
    ok = (
        plan_s <= options.plan_limit
        and sms == options.cadres
        and counts.get("failed", 0) == 0
        and per_worker >= options.target
    )
    result = {
        "benchmark": "notice_dispatch",
        "cadres": options.cadres,
        "load_seconds": round(load_s, 1),
        "plan_seconds": round(plan_s, 1),
        "planned_rows": plan.rows,
        "dispatch_seconds": round(dispatch_s, 1),
        "sms_per_second_per_worker": round(per_worker),
        "states": counts,
        "workers": options.workers,
        "concurrency": options.concurrency,
        "latency_ms": options.latency * 1000,
        "ok": ok,
    }
    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"  loaded {options.cadres} cadres in {load_s:.1f} s (not timed)")
        print(f"  planned {plan.rows} outbox rows in {plan_s:.1f} s")
        print(f"  dispatched {sms} SMS in {dispatch_s:.1f} s; states {counts}")
        print(
            f"notice_dispatch {options.cadres} cadres: plan {plan_s:.1f} s "
            f"(limit {options.plan_limit:.0f} s), {per_worker:.0f} SMS/s per worker "
            f"({options.workers} workers × {options.concurrency} threads, "
            f"{options.latency * 1000:.0f} ms/call; target {options.target:.0f}) "
            f"{'ok' if ok else 'FAIL'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
