"""Planning and dispatching a reminder end to end against the console and Aliyun fake."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from courses.models import Lecture
from notifications import services
from notifications.models import Delivery, InboxMessage, Reminder, ReminderKind
from notifications.providers.console import ConsoleProvider
from portal.models import User
from tests.fakes.providers import AliyunSmsFake

pytestmark = pytest.mark.django_db


def _due_reminder(lecture: Lecture, kind: str = ReminderKind.REMINDER_1H) -> Reminder:
    return Reminder.objects.create(lecture=lecture, kind=kind, due_at=timezone.now())


def _run(reminder: Reminder) -> None:
    assert services.reminder_claim_due() == [reminder.pk]
    services.reminder_plan(reminder_id=reminder.pk)
    for channel in ("inbox", "sms", "wechat", "dingtalk", "zwdd"):
        services.delivery_dispatch(channel=channel, time_budget=5)


def test_defaults_are_24h_and_1h_with_different_texts(lecture: Lecture) -> None:
    reminders = services.reminder_ensure_defaults(lecture=lecture)
    assert {r.kind for r in reminders} == {"reminder_24h", "reminder_1h"}
    assert services.reminder_ensure_defaults(lecture=lecture)  # idempotent
    assert Reminder.objects.filter(lecture=lecture).count() == 2
    r24 = Reminder.objects.get(lecture=lecture, kind="reminder_24h")
    r1 = Reminder.objects.get(lecture=lecture, kind="reminder_1h")
    assert r1.due_at == lecture.starts_at - timedelta(hours=1)
    for channel in ("sms", "dingtalk", "inbox"):
        t24 = services.message_render(reminder=r24, channel=channel).body
        t1 = services.message_render(reminder=r1, channel=channel).body
        assert t24 != t1
        assert lecture.title in t24


def test_reschedule_moves_default_reminders(lecture: Lecture) -> None:
    services.reminder_ensure_defaults(lecture=lecture)
    lecture.starts_at += timedelta(days=2)
    lecture.save()
    services.reminder_ensure_defaults(lecture=lecture)
    r1 = Reminder.objects.get(lecture=lecture, kind="reminder_1h")
    assert r1.due_at == lecture.starts_at - timedelta(hours=1)


def test_lecture_in_3_hours_gets_only_the_1h_reminder(lecture: Lecture) -> None:
    lecture.starts_at = timezone.now() + timedelta(hours=3)
    lecture.save()
    kinds = {r.kind for r in services.reminder_ensure_defaults(lecture=lecture)}
    assert kinds == {"reminder_1h"}


def test_console_dispatch_reaches_every_enrolled_cadre_once(
    lecture: Lecture, cohort: list[User]
) -> None:
    reminder = _due_reminder(lecture)
    _run(reminder)
    sms = Delivery.objects.filter(reminder=reminder, channel="sms")
    assert sms.count() == 5
    assert set(sms.values_list("status", flat=True)) == {"delivered"}
    assert InboxMessage.objects.filter(reminder=reminder).count() == 5
    assert len([m for ch, m in ConsoleProvider.sent if ch == "sms"]) == 5
    # running again sends nothing more
    services.delivery_dispatch(channel="sms", time_budget=1)
    assert len(ConsoleProvider.sent) == 5
    assert services.delivery_sweep().done == 1
    reminder.refresh_from_db()
    assert reminder.status == "done"


def test_aliyun_batches_of_100_and_no_duplicates(
    lecture: Lecture, programme: object, tree: object, aliyun: AliyunSmsFake
) -> None:
    from tests.notifications.conftest import cohort_create

    cohort_create(programme=lecture.programme, tree=tree, n=230)  # type: ignore[arg-type]
    reminder = _due_reminder(lecture)
    _run(reminder)
    sends = [r for r in aliyun.requests if r.form().get("Action") == "SendBatchSms"]
    assert [len(__import__("json").loads(r.form()["PhoneNumberJson"])) for r in sends] == [
        100,
        100,
        30,
    ]
    assert aliyun.duplicates() == {}
    assert (
        Delivery.objects.filter(reminder=reminder, channel="sms", status="accepted").count() == 230
    )
    # the batch key went out as OutId and is kept on the rows
    out_ids = {r.form()["OutId"] for r in sends}
    assert (
        set(
            Delivery.objects.filter(reminder=reminder, channel="sms").values_list(
                "batch_id", flat=True
            )
        )
        == out_ids
    )


def test_cancel_stops_queued_rows(lecture: Lecture, cohort: list[User]) -> None:
    reminder = _due_reminder(lecture)
    services.reminder_claim_due()
    services.reminder_plan(reminder_id=reminder.pk)
    assert services.reminder_cancel(reminder_id=reminder.pk, by=None) == 10
    services.delivery_dispatch(channel="sms", time_budget=1)
    assert ConsoleProvider.sent == type(ConsoleProvider.sent)(maxlen=10_000) or not list(
        ConsoleProvider.sent
    )
    assert set(Delivery.objects.filter(reminder=reminder).values_list("status", flat=True)) == {
        "cancelled"
    }


def test_opted_out_users_get_only_the_inbox(lecture: Lecture, cohort: list[User]) -> None:
    from notifications.models import NotifyPreference

    NotifyPreference.objects.create(user=cohort[0], opted_out=True)
    reminder = _due_reminder(lecture)
    _run(reminder)
    assert not Delivery.objects.filter(reminder=reminder, user=cohort[0], channel="sms").exists()
    assert InboxMessage.objects.filter(reminder=reminder, user=cohort[0]).exists()


def test_past_reminder_is_rejected(lecture: Lecture) -> None:
    from notifications.exceptions import NotifyError

    with pytest.raises(NotifyError) as exc:
        services.reminder_create(
            lecture=lecture,
            kind=ReminderKind.CUSTOM,
            due_at=timezone.now() - timedelta(hours=1),
            created_by=None,
        )
    assert exc.value.code.value == "in_past"
