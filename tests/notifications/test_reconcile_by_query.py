"""Reconciling ``unknown`` batches by asking the provider: Tencent SMS
(PullSmsSendStatusByPhoneNumber, matched by our SessionContext) and why DingTalk cannot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from courses.models import Lecture
from notifications import services
from notifications.models import ChannelBinding, Delivery, Reminder
from portal.models import User
from tests.fakes.providers import DingtalkFake, TencentSmsFake
from tests.notifications.conftest import reminder_plan_now

pytestmark = pytest.mark.django_db

PULL = "PullSmsSendStatusByPhoneNumber"


def _rows(reminder: Reminder, channel: str = "sms") -> list[Delivery]:
    return list(Delivery.objects.filter(reminder=reminder, channel=channel).order_by("id"))


def _actions(fake: TencentSmsFake, action: str) -> int:
    return sum(r.headers.get("x-tc-action") == action for r in fake.requests)


def test_tencent_timeout_is_reconciled_by_session_context_not_resent(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake
) -> None:
    tencent.inject("timeout")  # carried out, the answer is lost
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert {d.status for d in _rows(reminder)} == {"unknown"}

    stats = services.delivery_sweep()

    rows = _rows(reminder)
    assert stats.reconciled == 5
    assert {d.status for d in rows} == {"accepted"}
    serials = {s.address: s.message_id for s in tencent.sent}
    assert {d.provider_message_id for d in rows} == set(serials.values())
    assert _actions(tencent, "SendSms") == 1
    assert _actions(tencent, PULL) == 5
    query = next(r for r in tencent.requests if r.headers.get("x-tc-action") == PULL).json()
    assert query["PhoneNumber"].startswith("+86")
    assert query["EndTime"] - query["BeginTime"] == 24 * 3600
    assert tencent.duplicates() == {}


def test_tencent_not_found_stays_unknown_and_is_never_resent(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake
) -> None:
    tencent.inject("timeout_before")  # the provider never got it, but we cannot know that
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=3, max_batches=1)
    assert {d.status for d in _rows(reminder)} == {"unknown"}

    services.delivery_sweep()
    services.delivery_dispatch(channel="sms", time_budget=1)

    # absence from the carrier reports proves nothing: no blind resend
    assert {d.status for d in _rows(reminder)} == {"unknown"}
    assert _actions(tencent, "SendSms") == 1
    assert tencent.sent == []


def test_tencent_late_report_settles_a_row_on_a_later_sweep(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake
) -> None:
    tencent.inject("timeout")
    tencent.reports_pending = True
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    services.delivery_sweep()
    assert {d.status for d in _rows(reminder)} == {"unknown"}
    assert {d.error_code for d in _rows(reminder)} != {"unreconciled"}

    tencent.reports_pending = False
    services.delivery_sweep()
    assert {d.status for d in _rows(reminder)} == {"accepted"}
    assert _actions(tencent, "SendSms") == 1


def test_tencent_stops_asking_after_the_receipt_deadline(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake, settings: Settings
) -> None:
    tencent.inject("timeout_before")
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=3, max_batches=1)
    old = timezone.now() - timedelta(seconds=settings.NOTIFY_RECEIPT_DEADLINE + 60)
    Delivery.objects.filter(reminder=reminder, channel="sms").update(claimed_at=old)

    services.delivery_sweep()
    assert {d.error_code for d in _rows(reminder)} == {"unreconciled"}
    asked = _actions(tencent, PULL)
    assert asked == 5

    services.delivery_sweep()
    assert _actions(tencent, PULL) == asked  # no endless querying
    assert {d.status for d in _rows(reminder)} == {"unknown"}


def test_tencent_query_error_leaves_rows_unknown(
    lecture: Lecture, cohort: list[User], tencent: TencentSmsFake
) -> None:
    tencent.inject("timeout")
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="sms", time_budget=5)
    tencent.query_error = "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
    services.delivery_sweep()
    assert {d.status for d in _rows(reminder)} == {"unknown"}
    assert {d.error_code for d in _rows(reminder)} != {"unreconciled"}
    tencent.query_error = ""
    services.delivery_sweep()
    assert {d.status for d in _rows(reminder)} == {"accepted"}


def test_dingtalk_unknown_batch_cannot_be_queried_and_is_not_resent(
    lecture: Lecture, cohort: list[User], dingtalk: DingtalkFake, settings: Settings
) -> None:
    """getsendresult needs the task_id, which is exactly what a lost answer loses, and
    DingTalk has no lookup by user, time or a key of ours: the rows stay unknown (a later
    receipt deadline moves the user to the next channel) and nothing is sent twice."""
    settings.NOTIFY_CHANNELS = ["dingtalk"]
    for i, user in enumerate(cohort):
        ChannelBinding.objects.create(
            user=user, channel="dingtalk", address=f"ding{i}", verified=True
        )
    dingtalk.inject("timeout")
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="dingtalk", time_budget=5)
    assert {d.status for d in _rows(reminder, "dingtalk")} == {"unknown"}

    services.delivery_sweep()
    services.delivery_dispatch(channel="dingtalk", time_budget=1)

    assert {d.status for d in _rows(reminder, "dingtalk")} == {"unknown"}
    sends = [r for r in dingtalk.requests if r.path.endswith("asyncsend_v2")]
    assert len(sends) == 1
    assert dingtalk.duplicates() == {}
