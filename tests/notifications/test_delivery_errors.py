"""Error classes against the fakes: retry, throttle, permanent, fatal (pause), unknown."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from courses.models import Lecture
from notifications import services
from notifications.models import ChannelState, Delivery, Reminder, ReminderKind
from portal.models import User
from tests.fakes.providers import AliyunSmsFake, TencentSmsFake, WechatFake

pytestmark = pytest.mark.django_db


def _plan(lecture: Lecture) -> Reminder:
    reminder = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.REMINDER_1H, due_at=timezone.now()
    )
    services.reminder_claim_due()
    services.reminder_plan(reminder_id=reminder.pk)
    return reminder


def _sms(reminder: Reminder) -> list[Delivery]:
    return list(Delivery.objects.filter(reminder=reminder, channel="sms").order_by("id"))


def _sends(fake: AliyunSmsFake) -> list[dict[str, str]]:
    return [r.form() for r in fake.requests if r.form().get("Action") == "SendBatchSms"]


def test_5xx_is_retried_with_backoff_then_accepted(
    lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    aliyun.inject("5xx", times=2)
    reminder = _plan(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert len(_sends(aliyun)) == 3
    assert {d.status for d in _sms(reminder)} == {"accepted"}
    assert {d.attempts for d in _sms(reminder)} == {3}
    assert aliyun.duplicates() == {}


def test_retries_are_capped(
    lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake, settings: Settings
) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 3
    aliyun.inject("system", times=10)
    reminder = _plan(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert len(_sends(aliyun)) == 3
    rows = _sms(reminder)
    assert {d.status for d in rows} == {"failed"}
    assert {d.error_code for d in rows} == {"isp.SYSTEM_ERROR"}


def test_throttle_does_not_spend_attempts(
    lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    aliyun.inject("throttle", times=1)
    reminder = _plan(lecture)
    services.delivery_dispatch(channel="sms", time_budget=1)
    rows = _sms(reminder)
    assert {d.status for d in rows} == {"queued"}
    assert {d.attempts for d in rows} == {0}
    Delivery.objects.filter(reminder=reminder).update(next_attempt_at=timezone.now())
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert {d.status for d in _sms(reminder)} == {"accepted"}
    assert {d.attempts for d in _sms(reminder)} == {1}


def test_balance_exhausted_pauses_the_channel(
    lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    aliyun.inject("quota")
    reminder = _plan(lecture)
    stats = services.delivery_dispatch(channel="sms", time_budget=5)
    assert stats.batches == 1  # no hammering of a broken account
    state = ChannelState.objects.get(channel="sms")
    assert state.paused and "AMOUNT_NOT_ENOUGH" in state.reason
    assert {d.status for d in _sms(reminder)} == {"queued"}
    services.channel_resume(channel="sms", by=None)
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert {d.status for d in _sms(reminder)} == {"accepted"}


def test_invalid_number_fails_only_that_recipient(
    lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    aliyun.bad.add(cohort[2].phone or "")
    reminder = _plan(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    by_user = {d.user_id: d for d in _sms(reminder)}
    assert by_user[cohort[2].pk].status == "failed"
    assert by_user[cohort[2].pk].error_code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert sum(d.status == "accepted" for d in by_user.values()) == 4
    assert aliyun.duplicates() == {}


def test_aliyun_timeout_is_unknown_then_reconciled_not_resent(
    lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    aliyun.inject("timeout")  # the fake carries the batch out, the answer never comes
    reminder = _plan(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert {d.status for d in _sms(reminder)} == {"unknown"}
    services.delivery_sweep()
    assert {d.status for d in _sms(reminder)} == {"accepted"}
    assert len(_sends(aliyun)) == 1
    assert aliyun.duplicates() == {}


def test_aliyun_timeout_before_processing_is_requeued_after_reconcile(
    lecture: Lecture, cohort: list[User], aliyun: AliyunSmsFake
) -> None:
    aliyun.inject("timeout_before")
    reminder = _plan(lecture)
    services.delivery_dispatch(channel="sms", time_budget=3, max_batches=1)
    assert {d.status for d in _sms(reminder)} == {"unknown"}
    services.delivery_sweep()  # the provider never got it: safe to send
    assert {d.status for d in _sms(reminder)} == {"queued"}
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert {d.status for d in _sms(reminder)} == {"accepted"}
    assert sorted(aliyun.counts().values()) == [1] * 5


def test_tencent_per_number_results(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake
) -> None:
    tencent.bad.add(cohort[0].phone or "")
    reminder = _plan(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    rows = {d.user_id: d for d in _sms(reminder)}
    assert rows[cohort[0].pk].status == "failed"
    assert rows[cohort[1].pk].status == "accepted"
    assert len({d.provider_message_id for d in rows.values() if d.status == "accepted"}) == 4
    assert len(tencent.requests) == 1
    assert len(json.loads(tencent.requests[0].body)["PhoneNumberSet"]) == 5


def test_wechat_token_is_refreshed_once_on_expiry(
    lecture: Lecture, cohort: list[User], wechat: WechatFake, settings: Settings
) -> None:
    from notifications.models import ChannelBinding

    settings.NOTIFY_CHANNELS = ["wechat"]
    for i, user in enumerate(cohort):
        ChannelBinding.objects.create(
            user=user,
            channel="wechat",
            address=f"oOPENID{i:020d}",
            appid=wechat.appid,
            verified=True,
        )
    wechat.inject("token_expired")
    reminder = _plan(lecture)
    services.delivery_dispatch(channel="wechat", time_budget=5)
    rows = Delivery.objects.filter(reminder=reminder, channel="wechat")
    assert set(rows.values_list("status", flat=True)) == {"accepted"}
    assert wechat.token_calls == 2
    assert wechat.duplicates() == {}
