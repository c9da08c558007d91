"""Real Celery workers against PostgreSQL, a private Redis and the Aliyun fake.

* SIGKILL a worker in the middle of a dispatch and start a new one: every recipient ends
  with exactly one accepted SMS, and the fake saw no number twice.
* Restart Redis (the broker and token buckets) mid-dispatch: nothing is lost.

A private ``redis-server`` on a free port is used, so restarting it disturbs no one else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from courses.models import Enrolment, Lecture
from notifications import services
from notifications.models import Delivery, Reminder, ReminderKind
from portal.models import User
from tests.fakes.providers import AliyunSmsFake
from tests.redis_server import PrivateRedis

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.remove()


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
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
                "4",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def _worker_env(redis: PrivateRedis, fake: AliyunSmsFake) -> dict[str, str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": f"{redis.url}/0",
        "NOTIFY_REDIS_URL": f"{redis.url}/1",
        "NOTIFY_CHANNELS": "sms",
        "NOTIFY_SMS_PROVIDER": "aliyun",
        "NOTIFY_SMS_ENDPOINT": fake.url,
        "NOTIFY_SMS_ACCESS_KEY_ID": "ak",
        "NOTIFY_SMS_ACCESS_KEY_SECRET": fake.secret,
        "NOTIFY_SMS_RATE": "0",
        "NOTIFY_HTTP_TIMEOUT": "5",
        "NOTIFY_DISPATCH_SECONDS": "30",
        "NOTIFY_BACKOFF_BASE": "0.05",
        "NOTIFY_BACKOFF_CAP": "0.1",
    }
    env.pop("ZHIXING_TEST_DB", None)
    return env


def _cohort(lecture: Lecture, n: int) -> None:
    unit = lecture.programme.organiser_unit
    User.objects.bulk_create(
        [User(username=f"w{i}", phone=f"1380000{i:04d}", unit=unit, password="!") for i in range(n)]
    )
    Enrolment.objects.bulk_create(
        [
            Enrolment(user=u, programme=lecture.programme)
            for u in User.objects.filter(username__startswith="w")
        ]
    )


def _planned(lecture: Lecture) -> Reminder:
    reminder = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.REMINDER_1H, due_at=timezone.now()
    )
    services.reminder_claim_due()
    services.reminder_plan(reminder_id=reminder.pk)
    return reminder


def _kick(redis: PrivateRedis, n: int = 2) -> None:
    # not the current app: shared tasks of later tests would publish to this dead broker
    app = Celery(broker=f"{redis.url}/0", set_as_current=False)
    for _ in range(n):
        app.send_task("notifications.dispatch", args=["sms"])
    app.close()


def _wait(predicate: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def _open_rows(reminder: Reminder) -> int:
    return Delivery.objects.filter(
        reminder=reminder, channel="sms", status__in=("queued", "sending", "unknown")
    ).count()


@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_dispatch_loses_and_doubles_nothing(
    lecture: Lecture, aliyun: AliyunSmsFake, private_redis: PrivateRedis
) -> None:
    n = 1000
    _cohort(lecture, n)
    reminder = _planned(lecture)
    aliyun.latency = 0.3
    env = _worker_env(private_redis, aliyun)
    worker = Worker(env)
    try:
        _kick(private_redis)
        assert _wait(lambda: len(aliyun.sent) >= 300, 60), "the worker never sent"
        worker.kill()
    finally:
        worker.stop()
    sent_at_kill = len(aliyun.sent)
    assert sent_at_kill < n, "the dispatch finished before the kill"
    assert Delivery.objects.filter(reminder=reminder, status__in=("queued", "sending")).exists()
    # requests that were in flight at the kill are answered (or dropped) by the fake
    assert _wait(lambda: aliyun.in_flight == 0, 10), aliyun.in_flight
    # the sweeper (beat) settles what the dead worker held; the new worker sends the rest
    services.delivery_sweep(stale_after=0)
    worker = Worker(env)
    try:
        _kick(private_redis)
        assert _wait(lambda: _open_rows(reminder) == 0, 90), _open_rows(reminder)
    finally:
        worker.stop()
    rows = Delivery.objects.filter(reminder=reminder, channel="sms")
    assert rows.count() == n
    assert set(rows.values_list("status", flat=True)) == {"accepted"}
    assert aliyun.duplicates() == {}
    assert len(aliyun.sent) == n


@pytest.mark.django_db(transaction=True)
def test_redis_restart_mid_dispatch_loses_nothing(
    lecture: Lecture, aliyun: AliyunSmsFake, private_redis: PrivateRedis
) -> None:
    n = 1000
    _cohort(lecture, n)
    reminder = _planned(lecture)
    aliyun.latency = 0.2
    worker = Worker(_worker_env(private_redis, aliyun))
    try:
        _kick(private_redis)
        assert _wait(lambda: len(aliyun.sent) >= 200, 60), "the worker never sent"
        private_redis.stop()  # broker messages and buckets are gone (no persistence)
        time.sleep(1.0)
        private_redis.start()
        # beat's next tick kicks the dispatchers again; PostgreSQL still has every row
        _kick(private_redis)
        assert _wait(lambda: _open_rows(reminder) == 0, 90), _open_rows(reminder)
    finally:
        worker.stop()
    rows = Delivery.objects.filter(reminder=reminder, channel="sms")
    assert set(rows.values_list("status", flat=True)) == {"accepted"}
    assert rows.count() == n
    assert aliyun.duplicates() == {}
