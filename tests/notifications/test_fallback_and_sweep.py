"""Fallback across channels, the sweeper for stuck rows, receipts by polling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from courses.models import Lecture
from notifications import services
from notifications.models import ChannelBinding, Delivery, NotifyPreference, Reminder, ReminderKind
from notifications.services import dispatch
from portal.models import User
from tests.fakes.providers import AliyunSmsFake, DingtalkFake
from tests.fakes.zwdd import ZwddPlatformFake

pytestmark = pytest.mark.django_db


def _plan(lecture: Lecture) -> Reminder:
    reminder = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.REMINDER_24H, due_at=timezone.now()
    )
    services.reminder_claim_due()
    services.reminder_plan(reminder_id=reminder.pk)
    return reminder


def _bind(users: list[User], channel: str, prefix: str) -> None:
    for i, user in enumerate(users):
        ChannelBinding.objects.create(
            user=user, channel=channel, address=f"{prefix}{i}", verified=True
        )


def _status(reminder: Reminder, user: User) -> dict[str, str]:
    return dict(
        Delivery.objects.filter(reminder=reminder, user=user).values_list("channel", "status")
    )


def test_default_order_prefers_zwdd_then_dingtalk_then_sms(
    lecture: Lecture, cohort: list[User], settings: Settings
) -> None:
    settings.NOTIFY_CHANNELS = ["zwdd", "dingtalk", "wechat", "sms"]
    settings.NOTIFY_ZWDD_PROVIDER = settings.NOTIFY_DINGTALK_PROVIDER = "console"
    _bind(cohort[:2], "zwdd", "zw")
    _bind(cohort[1:3], "dingtalk", "dd")
    NotifyPreference.objects.create(user=cohort[4], channel_order="sms,zwdd")
    reminder = _plan(lecture)
    first = dict(
        Delivery.objects.filter(reminder=reminder)
        .exclude(channel="inbox")
        .values_list("user_id", "channel")
    )
    assert first == {
        cohort[0].pk: "zwdd",
        cohort[1].pk: "zwdd",
        cohort[2].pk: "dingtalk",
        cohort[3].pk: "sms",
        cohort[4].pk: "sms",
    }


def test_permanent_failure_falls_back_to_sms(
    lecture: Lecture,
    cohort: list[User],
    settings: Settings,
    dingtalk: DingtalkFake,
    aliyun: AliyunSmsFake,
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "sms"]
    _bind(cohort, "dingtalk", "dd")
    dingtalk.bad.add("dd0")  # an invalid userid: reported by getsendresult
    reminder = _plan(lecture)
    services.delivery_dispatch(channel="dingtalk", time_budget=5)
    assert len(dingtalk.sent) == 5  # accepted by the API; the receipt says invalid
    # receipts are polled (beat notifications.poll_receipts) once the task is 30 s old
    Delivery.objects.filter(reminder=reminder).update(
        claimed_at=timezone.now() - timedelta(minutes=1)
    )
    services.delivery_sweep()
    services.receipt_poll(channel="dingtalk")
    assert _status(reminder, cohort[0]) == {
        "inbox": "queued",
        "dingtalk": "failed",
        "sms": "queued",
    }
    assert _status(reminder, cohort[1])["dingtalk"] == "delivered"
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert aliyun.counts() == {cohort[0].phone: 1}


def test_no_receipt_by_deadline_falls_back_but_never_sms_after_delivery(
    lecture: Lecture,
    cohort: list[User],
    settings: Settings,
    aliyun: AliyunSmsFake,
) -> None:
    settings.NOTIFY_CHANNELS = ["wechat", "sms"]
    settings.NOTIFY_WECHAT_PROVIDER = "console"
    for i, user in enumerate(cohort[:2]):
        ChannelBinding.objects.create(
            user=user,
            channel="wechat",
            address=f"oOPENID{i:020d}",
            appid="wx0123456789abcdef",
            verified=True,
        )
    reminder = _plan(lecture)
    # simulate WeChat accepted without receipt for both users
    Delivery.objects.filter(reminder=reminder, channel="wechat").update(
        status="accepted",
        provider_message_id="m",
        fallback_after=timezone.now() - timedelta(seconds=1),
    )
    services.delivery_sweep()
    fallback = Delivery.objects.filter(reminder=reminder, channel="sms", hop=1)
    assert fallback.count() == 2
    # the receipt for user 0 arrives late, before the SMS goes out: user 0 gets no SMS
    Delivery.objects.filter(reminder=reminder, channel="wechat", user=cohort[0]).update(
        status="delivered"
    )
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert _status(reminder, cohort[0])["sms"] == "skipped"
    assert _status(reminder, cohort[1])["sms"] == "accepted"
    assert cohort[0].phone not in aliyun.counts()


def test_stuck_idempotent_batch_is_resent_with_the_same_key(
    lecture: Lecture,
    cohort: list[User],
    settings: Settings,
    zwdd: ZwddPlatformFake,
) -> None:
    settings.NOTIFY_CHANNELS = ["zwdd"]
    _bind(cohort, "zwdd", "acc")
    reminder = _plan(lecture)
    zwdd.inject("timeout")  # carried out, answer lost
    services.delivery_dispatch(channel="zwdd", time_budget=3, max_batches=1)
    rows = Delivery.objects.filter(reminder=reminder, channel="zwdd")
    # idempotent API: a timeout is retryable with the same key, so it was queued again
    assert set(rows.values_list("status", flat=True)) == {"queued"}
    # a worker dies after claiming: rows stuck in sending
    _batch_id, claimed = dispatch._claim(
        channel="zwdd", limit=100, now=timezone.now() + timedelta(seconds=1), resume=True
    )
    assert len(claimed) == 5
    services.delivery_sweep(stale_after=-1)
    assert set(rows.values_list("status", flat=True)) == {"accepted"}
    assert zwdd.duplicates() == {}  # bizMsgId made the repeats no-ops


def test_stuck_non_idempotent_batch_becomes_unknown(
    lecture: Lecture,
    cohort: list[User],
    aliyun: AliyunSmsFake,
) -> None:
    reminder = _plan(lecture)
    dispatch._claim(channel="sms", limit=100, now=timezone.now())  # claimed, never sent
    stats = services.delivery_sweep(stale_after=-1)
    assert stats.unknown == 5
    # reconciliation asked Aliyun: it never got them, so they are queued again
    rows = Delivery.objects.filter(reminder=reminder, channel="sms")
    assert set(rows.values_list("status", flat=True)) == {"queued"}
    services.delivery_dispatch(channel="sms", time_budget=5)
    assert sorted(aliyun.counts().values()) == [1] * 5


def test_reminder_for_started_lecture_is_not_sent_late(
    lecture: Lecture, cohort: list[User]
) -> None:
    lecture.starts_at = timezone.now() - timedelta(minutes=1)
    lecture.save()
    reminder = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.REMINDER_1H, due_at=timezone.now() - timedelta(hours=1)
    )
    services.reminder_claim_due()
    services.reminder_plan(reminder_id=reminder.pk)
    reminder.refresh_from_db()
    assert reminder.status == "cancelled"
    assert not Delivery.objects.filter(reminder=reminder).exists()


def test_invitation_goes_to_the_whole_audience_subtree(
    lecture: Lecture, cohort: list[User], outsider: User, tree: object
) -> None:
    from tests.factories import UserFactory

    UserFactory(username="not-enrolled", unit=tree.village, phone="13700000001")  # type: ignore[attr-defined]
    reminder = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.INVITATION, due_at=timezone.now()
    )
    services.reminder_claim_due()
    result = services.reminder_plan(reminder_id=reminder.pk)
    assert result.recipients == 6
    assert not Delivery.objects.filter(reminder=reminder, user=outsider).exists()
