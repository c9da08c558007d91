"""Receipts of providers without push, polled by the beat task ``notifications.poll_receipts``:
Tencent ``PullSmsSendStatus`` (the account's report queue, each report handed out once) and
DingTalk ``getsendresult`` per task; both update rows through ``receipt_apply``, like the
Aliyun webhook; and what the fallback deadline makes of them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from courses.models import Lecture
from notifications import services
from notifications.models import ChannelBinding, Delivery, NotifyPreference, Reminder
from notifications.providers import sms
from notifications.tasks import notice_poll_receipts_task
from portal.celery import app as celery_app
from portal.models import User
from tests.fakes.providers import DingtalkFake, TencentSmsFake
from tests.notifications.conftest import reminder_plan_now

pytestmark = pytest.mark.django_db

PULL = "PullSmsSendStatus"


def _rows(reminder: Reminder, channel: str) -> list[Delivery]:
    return list(Delivery.objects.filter(reminder=reminder, channel=channel).order_by("user_id"))


def _by_user(reminder: Reminder, channel: str) -> dict[int, str]:
    return {d.user_id: d.status for d in _rows(reminder, channel)}


def _pulls(fake: TencentSmsFake) -> list[dict[str, object]]:
    return [r.json() for r in fake.requests if r.headers.get("x-tc-action") == PULL]


def _asked(fake: DingtalkFake) -> list[str]:
    return [str(r.json()["task_id"]) for r in fake.requests if r.path.endswith("getsendresult")]


def _phone(user: User) -> str:
    assert user.phone
    return user.phone


def _bind_dingtalk(users: list[User]) -> None:
    for i, user in enumerate(users):
        ChannelBinding.objects.create(
            user=user, channel="dingtalk", address=f"dd{i}", verified=True
        )


def _age(reminder: Reminder, channel: str, *, seconds: int = 60) -> None:
    """The rows were sent ``seconds`` ago (DingTalk tasks are asked about after 30 s)."""
    Delivery.objects.filter(reminder=reminder, channel=channel).update(
        claimed_at=timezone.now() - timedelta(seconds=seconds)
    )


def _past_deadline(reminder: Reminder, channel: str) -> None:
    Delivery.objects.filter(reminder=reminder, channel=channel).update(
        fallback_after=timezone.now() - timedelta(seconds=1)
    )


# ---------------------------------------------------------------------------------------
# Tencent PullSmsSendStatus
# ---------------------------------------------------------------------------------------
def test_tencent_reports_are_pulled_and_settle_accepted_rows(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake, settings: Settings
) -> None:
    settings.NOTIFY_SMS_SDK_APP_ID = "1400006666"
    tencent.undelivered.add(_phone(cohort[1]))
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert {d.status for d in _rows(reminder, "sms")} == {"accepted"}

    stats = services.receipt_poll(channel="sms")

    assert (stats.calls, stats.reports, stats.applied, stats.unmatched) == (1, 5, 5, 0)
    rows = {d.user_id: d for d in _rows(reminder, "sms")}
    assert rows[cohort[1].pk].status == "failed"
    assert rows[cohort[1].pk].error_code == "MK:0001"
    assert {rows[u.pk].status for u in cohort if u != cohort[1]} == {"delivered"}
    assert _pulls(tencent) == [{"Limit": 100, "SmsSdkAppId": "1400006666"}]
    # the queue is empty now: the next run asks once and changes nothing
    again = services.receipt_poll(channel="sms")
    assert (again.calls, again.reports, again.applied) == (1, 0, 0)


def test_tencent_pull_pages_until_empty_within_the_page_cap(
    lecture: Lecture,
    cohort: list[User],
    tencent: TencentSmsFake,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sms, "TENCENT_PULL_LIMIT", 2)
    settings.NOTIFY_TENCENT_PULL_PAGES = 2
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)

    first = services.receipt_poll(channel="sms")
    assert (first.calls, first.applied) == (2, 4)  # the page cap, not the queue, ended it
    assert sorted(_by_user(reminder, "sms").values()) == ["accepted"] + ["delivered"] * 4

    second = services.receipt_poll(channel="sms")
    assert (second.calls, second.applied) == (1, 1)  # a short page: the queue is empty
    assert set(_by_user(reminder, "sms").values()) == {"delivered"}
    assert [p["Limit"] for p in _pulls(tencent)] == [2, 2, 2]


def test_a_report_applied_twice_changes_nothing(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake
) -> None:
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert services.receipt_poll(channel="sms").applied == 5
    before = {d.pk: (d.status, d.updated_at, d.error_code) for d in _rows(reminder, "sms")}

    tencent.redeliver = True  # the provider hands the same reports out again
    tencent.undelivered.add(_phone(cohort[0]))  # … and even a contradicting late one
    stats = services.receipt_poll(channel="sms")

    assert (stats.reports, stats.applied, stats.unmatched) == (5, 0, 0)
    after = {d.pk: (d.status, d.updated_at, d.error_code) for d in _rows(reminder, "sms")}
    assert after == before  # delivered is never downgraded, nothing is touched
    assert Delivery.objects.filter(reminder=reminder).count() == 10  # no fallback rows


def test_unknown_serial_numbers_are_ignored_and_counted(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake
) -> None:
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    stranger = {
        "SubscriberNumber": "13800000000",
        "PhoneNumber": "+8613800000000",
        "SerialNo": uuid.uuid4().hex,
        "ReportStatus": "FAIL",
        "Description": "MK:0001",
        "SessionContext": "",
    }
    ours_wrong_serial = {**stranger, "SubscriberNumber": cohort[0].phone, "SerialNo": "x:1"}
    ours_wrong_serial["PhoneNumber"] = f"+86{cohort[0].phone}"
    tencent.extra_reports = [stranger, ours_wrong_serial]
    tencent.unreported = {_phone(u) for u in cohort}

    stats = services.receipt_poll(channel="sms")

    assert (stats.reports, stats.applied, stats.unmatched) == (2, 0, 2)
    assert set(_by_user(reminder, "sms").values()) == {"accepted"}


def test_a_report_settles_an_unknown_row_by_our_batch_id(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake
) -> None:
    tencent.inject("timeout")  # carried out, the answer (with the serial numbers) is lost
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert {d.status for d in _rows(reminder, "sms")} == {"unknown"}

    stats = services.receipt_poll(channel="sms")

    assert (stats.applied, stats.unmatched) == (5, 0)
    rows = _rows(reminder, "sms")
    assert {d.status for d in rows} == {"delivered"}
    assert {d.provider_message_id for d in rows} == {s.message_id for s in tencent.sent}
    assert tencent.duplicates() == {}


def test_pull_errors_are_counted_and_leave_rows_accepted(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake
) -> None:
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    tencent.pull_error = "FailedOperation.PullNotEnabled"
    stats = services.receipt_poll(channel="sms")
    assert (stats.calls, stats.errors) == (0, 1)
    assert {d.status for d in _rows(reminder, "sms")} == {"accepted"}
    tencent.pull_error = ""
    assert services.receipt_poll(channel="sms").applied == 5


def test_zero_pages_switches_pulling_off(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake, settings: Settings
) -> None:
    settings.NOTIFY_TENCENT_PULL_PAGES = 0
    reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert services.receipt_poll(channel="sms").calls == 0
    assert _pulls(tencent) == []


def test_beat_task_polls_every_switched_on_channel(
    lecture: Lecture,
    cohort: list[User],
    tencent: TencentSmsFake,
    dingtalk: DingtalkFake,
    settings: Settings,
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "sms"]
    _bind_dingtalk(cohort[:2])
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="dingtalk", time_budget=5)
    services.delivery_dispatch(channel="sms", time_budget=5)
    _age(reminder, "dingtalk")

    notice_poll_receipts_task()

    assert set(_by_user(reminder, "dingtalk").values()) == {"delivered"}
    assert set(_by_user(reminder, "sms").values()) == {"delivered"}
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-receipts"]
    assert entry["task"] == "notifications.poll_receipts"
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == float(settings.NOTIFY_RECEIPT_POLL_SECONDS)


# ---------------------------------------------------------------------------------------
# DingTalk getsendresult
# ---------------------------------------------------------------------------------------
def test_dingtalk_tasks_are_polled_until_every_user_has_a_final_answer(
    lecture: Lecture,
    cohort: list[User],
    dingtalk: DingtalkFake,
    settings: Settings,
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "sms"]
    settings.NOTIFY_SMS_PROVIDER = "console"
    _bind_dingtalk(cohort)
    dingtalk.read.add("dd0")
    dingtalk.failed.add("dd1")
    dingtalk.forbidden.add("dd2")
    dingtalk.processing.add("dd3")  # not in any list yet
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="dingtalk", time_budget=5)
    assert services.receipt_poll(channel="dingtalk").calls == 0  # too fresh: not asked yet
    _age(reminder, "dingtalk")

    stats = services.receipt_poll(channel="dingtalk")

    assert (stats.calls, stats.applied, stats.unmatched) == (1, 4, 0)
    rows = {d.user_id: d for d in _rows(reminder, "dingtalk")}
    assert [rows[u.pk].status for u in cohort] == [
        "delivered",
        "failed",
        "failed",
        "accepted",
        "delivered",
    ]
    assert (rows[cohort[1].pk].error_code, rows[cohort[2].pk].error_code) == (
        "failed",
        "forbidden",
    )
    # a failure moves the user on to SMS at once
    assert _by_user(reminder, "sms") == {cohort[1].pk: "queued", cohort[2].pk: "queued"}

    dingtalk.processing.clear()
    assert services.receipt_poll(channel="dingtalk").applied == 1
    assert _by_user(reminder, "dingtalk")[cohort[3].pk] == "delivered"
    # every user of the task has a final answer: it is not asked about again
    services.receipt_poll(channel="dingtalk")
    assert len(_asked(dingtalk)) == 2


def test_dingtalk_polling_stops_at_the_receipt_deadline(
    lecture: Lecture, cohort: list[User], dingtalk: DingtalkFake, settings: Settings
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk"]
    _bind_dingtalk(cohort)
    dingtalk.processing.update(f"dd{i}" for i in range(5))
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="dingtalk", time_budget=5)
    _age(reminder, "dingtalk")
    services.receipt_poll(channel="dingtalk")
    services.receipt_poll(channel="dingtalk")
    assert len(_asked(dingtalk)) == 2  # still running: asked on every run

    _past_deadline(reminder, "dingtalk")
    services.receipt_poll(channel="dingtalk")
    services.delivery_sweep()
    services.receipt_poll(channel="dingtalk")

    assert len(_asked(dingtalk)) == 2
    rows = _rows(reminder, "dingtalk")
    assert {d.status for d in rows} == {"accepted"}
    assert all(d.fallback_done for d in rows)


def test_dingtalk_least_recently_asked_tasks_go_first(
    lecture: Lecture, cohort: list[User], dingtalk: DingtalkFake, settings: Settings
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk"]
    settings.NOTIFY_DINGTALK_BATCH_SIZE = 2  # 5 users → 3 tasks
    settings.NOTIFY_DINGTALK_POLL_TASKS = 1
    _bind_dingtalk(cohort)
    dingtalk.processing.update(f"dd{i}" for i in range(5))
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="dingtalk", time_budget=5)
    assert len(dingtalk.tasks) == 3
    _age(reminder, "dingtalk")

    for _run in range(4):
        services.receipt_poll(channel="dingtalk")

    asked = _asked(dingtalk)
    assert set(asked[:3]) == set(dingtalk.tasks)  # each task once before any twice
    assert asked[3] == asked[0]


def test_dingtalk_error_on_one_task_does_not_stop_the_others(
    lecture: Lecture, cohort: list[User], dingtalk: DingtalkFake, settings: Settings
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk"]
    settings.NOTIFY_DINGTALK_BATCH_SIZE = 2
    _bind_dingtalk(cohort)
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="dingtalk", time_budget=5)
    _age(reminder, "dingtalk")
    broken = sorted(dingtalk.tasks)[0]
    dingtalk.result_errors[broken] = 33012  # an error of that call only

    stats = services.receipt_poll(channel="dingtalk")

    assert (stats.calls, stats.errors, stats.applied) == (2, 1, 3)
    statuses = {d.provider_message_id: d.status for d in _rows(reminder, "dingtalk")}
    assert statuses[broken] == "accepted"
    assert [s for t, s in statuses.items() if t != broken] == ["delivered", "delivered"]

    dingtalk.result_errors[broken] = 90018  # throttled: the run stops, nothing lost
    assert services.receipt_poll(channel="dingtalk").calls == 0
    del dingtalk.result_errors[broken]
    assert services.receipt_poll(channel="dingtalk").applied == 2


# ---------------------------------------------------------------------------------------
# The fallback deadline, now that Tencent and DingTalk receipts arrive
# ---------------------------------------------------------------------------------------
def test_delivered_dingtalk_receipt_means_no_sms_after_the_deadline(
    lecture: Lecture,
    cohort: list[User],
    dingtalk: DingtalkFake,
    tencent: TencentSmsFake,
    settings: Settings,
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "sms"]
    _bind_dingtalk(cohort)
    dingtalk.processing.add("dd3")  # never answers
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="dingtalk", time_budget=5)
    _age(reminder, "dingtalk")
    services.receipt_poll(channel="dingtalk")
    _past_deadline(reminder, "dingtalk")

    stats = services.delivery_sweep()

    assert stats.fallbacks == 1
    assert _by_user(reminder, "sms") == {cohort[3].pk: "queued"}
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert tencent.counts() == {cohort[3].phone: 1}
    services.receipt_poll(channel="sms")
    assert _by_user(reminder, "sms") == {cohort[3].pk: "delivered"}
    services.delivery_dispatch(channel="inbox", time_budget=5)
    assert services.delivery_sweep().done == 1
    reminder.refresh_from_db()
    assert reminder.status == "done"


def test_delivered_tencent_report_means_no_fallback_after_the_deadline(
    lecture: Lecture,
    cohort: list[User],
    dingtalk: DingtalkFake,
    tencent: TencentSmsFake,
    settings: Settings,
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "sms"]
    _bind_dingtalk(cohort)
    for user in cohort:
        NotifyPreference.objects.create(user=user, channel_order="sms,dingtalk")
    tencent.undelivered.add(_phone(cohort[0]))  # carrier says FAIL: DingTalk at once
    tencent.unreported.add(_phone(cohort[1]))  # no report by the deadline: DingTalk then
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)

    services.receipt_poll(channel="sms")
    assert _by_user(reminder, "dingtalk") == {cohort[0].pk: "queued"}
    _past_deadline(reminder, "sms")
    services.delivery_sweep()

    assert _by_user(reminder, "dingtalk") == {cohort[0].pk: "queued", cohort[1].pk: "queued"}
    services.delivery_dispatch(channel="dingtalk", time_budget=5)
    assert dingtalk.counts() == {"dd0": 1, "dd1": 1}


def test_late_sms_report_after_the_fallback_skips_the_next_channel(
    lecture: Lecture,
    cohort: list[User],
    dingtalk: DingtalkFake,
    tencent: TencentSmsFake,
    settings: Settings,
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "sms"]
    _bind_dingtalk(cohort[:1])
    NotifyPreference.objects.create(user=cohort[0], channel_order="sms,dingtalk")
    tencent.unreported.add(_phone(cohort[0]))
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    _past_deadline(reminder, "sms")
    services.delivery_sweep()
    assert _by_user(reminder, "dingtalk") == {cohort[0].pk: "queued"}

    tencent.unreported.clear()  # the report comes late, before DingTalk is sent
    services.receipt_poll(channel="sms")
    assert _by_user(reminder, "sms")[cohort[0].pk] == "delivered"
    services.delivery_dispatch(channel="dingtalk", time_budget=5)

    assert _by_user(reminder, "dingtalk") == {cohort[0].pk: "skipped"}
    assert dingtalk.counts() == {}
