"""Discussion digests: a lecture-less notice to an explicit audience, through the outbox."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from courses.models import Lecture, Programme
from notifications import selectors, services
from notifications.models import (
    ChannelBinding,
    Delivery,
    InboxMessage,
    NotifyPreference,
    ProgrammeOptOut,
    Reminder,
    ReminderKind,
    ReminderRecipient,
)
from notifications.providers.console import ConsoleProvider
from notifications.services.digests import digest_reminder_create
from portal.models import User
from tests.conftest import Tree
from tests.factories import UserFactory
from tests.fakes.providers import AliyunSmsFake

pytestmark = pytest.mark.django_db

GROUPS_LINK = "https://zx.example.org/groups/"


def _run_like_beat(reminder: Reminder) -> None:
    """What notifications.tick / plan / dispatch do, in this process."""
    assert services.reminder_claim_due() == [reminder.pk]
    services.reminder_plan(reminder_id=reminder.pk)
    for channel in ("inbox", "sms", "wechat", "dingtalk", "zwdd"):
        services.delivery_dispatch(channel=channel, time_budget=5)


@pytest.fixture
def three(tree: Tree, programme: Programme) -> tuple[User, User, User]:
    """Reachable on SMS (a verified binding), opted out of push notices, inactive."""
    reachable = UserFactory(username="d-reach", unit=tree.lingyin)
    ChannelBinding.objects.create(
        user=reachable, channel="sms", address="13900000001", verified=True
    )
    # A programme opt-out is about that programme's lectures, not about discussions.
    ProgrammeOptOut.objects.create(user=reachable, programme=programme)
    opted_out = UserFactory(username="d-quiet", unit=tree.lingyin, phone="13900000002")
    NotifyPreference.objects.create(user=opted_out, opted_out=True)
    inactive = UserFactory(
        username="d-gone", unit=tree.lingyin, phone="13900000003", is_active=False
    )
    return reachable, opted_out, inactive


def test_digest_reaches_active_recipients_inbox_and_first_push_channel(
    three: tuple[User, User, User],
) -> None:
    reachable, opted_out, inactive = three
    reminder = digest_reminder_create(
        user_ids=[reachable.pk, opted_out.pk, inactive.pk, reachable.pk],
        note="3 个学习群有 7 条新帖",
    )
    assert reminder is not None
    assert (reminder.kind, reminder.lecture_id, reminder.status) == ("digest", None, "scheduled")
    assert reminder.explicit_recipients.count() == 3

    _run_like_beat(reminder)

    rows = set(Delivery.objects.filter(reminder=reminder).values_list("user_id", "channel"))
    assert rows == {
        (reachable.pk, "inbox"),
        (opted_out.pk, "inbox"),
        (reachable.pk, "sms"),
    }
    assert set(Delivery.objects.filter(reminder=reminder).values_list("status", flat=True)) == {
        "delivered"
    }
    inbox = InboxMessage.objects.filter(reminder=reminder)
    assert set(inbox.values_list("user_id", flat=True)) == {reachable.pk, opted_out.pk}
    message = inbox.get(user=reachable)
    assert message.title == "学习群有新的讨论"
    assert message.link == GROUPS_LINK
    assert GROUPS_LINK in message.body
    assert "3 个学习群有 7 条新帖" in message.body
    sms = [m for channel, m in ConsoleProvider.sent if channel == "sms"]
    assert [m.address for m in sms] == ["13900000001"]
    assert GROUPS_LINK in sms[0].body
    assert sms[0].params["link"] == GROUPS_LINK

    reminder.refresh_from_db()
    assert reminder.recipients == 2
    assert services.delivery_sweep().done == 1
    reminder.refresh_from_db()
    assert reminder.status == "done"


def test_digest_sms_template_gets_only_the_link(
    three: tuple[User, User, User], aliyun: AliyunSmsFake
) -> None:
    reachable, _opted_out, _inactive = three
    reminder = digest_reminder_create(user_ids=[reachable.pk])
    assert reminder is not None
    _run_like_beat(reminder)
    assert [(s.address, json.loads(s.text)) for s in aliyun.sent] == [
        ("13900000001", {"link": GROUPS_LINK})
    ]


def test_every_channel_has_a_digest_text_with_the_groups_link(
    three: tuple[User, User, User],
) -> None:
    reminder = digest_reminder_create(user_ids=[three[0].pk])
    assert reminder is not None
    for channel in ("inbox", "sms", "wechat", "dingtalk", "zwdd"):
        text = services.message_render(reminder=reminder, channel=channel)
        assert GROUPS_LINK in text.body, channel
        assert text.subject == "学习群有新的讨论", channel
        assert (text.params["programme"], text.params["time"], text.params["speaker"]) == (
            "",
            "",
            "",
        )
    assert str(reminder).startswith("讨论摘要")


def test_empty_user_list_creates_nothing() -> None:
    assert digest_reminder_create(user_ids=[]) is None
    assert digest_reminder_create(user_ids=iter(())) is None
    assert not Reminder.objects.exists()
    assert not ReminderRecipient.objects.exists()


def test_database_refuses_a_lecture_reminder_without_a_lecture(lecture: Lecture) -> None:
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(kind=ReminderKind.CUSTOM, lecture=None, due_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(kind=ReminderKind.DIGEST, lecture=lecture, due_at=now)
    with pytest.raises(ValidationError):
        Reminder(kind=ReminderKind.REMINDER_1H, lecture=None, due_at=now).full_clean()
    assert not Reminder.objects.exists()


def test_programme_opt_outs_and_resend_ignore_digests(
    three: tuple[User, User, User], programme: Programme
) -> None:
    reachable, _opted_out, _inactive = three
    reminder = digest_reminder_create(user_ids=[reachable.pk])
    assert reminder is not None
    _run_like_beat(reminder)
    assert (
        selectors.programme_opt_outs_by_reminder(
            reminder_ids=[reminder.pk], user_ids=[reachable.pk]
        )
        == set()
    )
    Delivery.objects.filter(reminder=reminder, channel="sms").update(status="failed")
    assert services.reminder_resend_failed(reminder_id=reminder.pk, by=None) == 1
    # Withdrawing for a programme opt-out leaves the digest's rows alone.
    assert services.delivery_withdraw_opted_out(user=reachable, programme_ids=[programme.pk]) == 0


def test_digests_are_for_superusers_only_in_the_admin(
    client: Client, organiser: User, tree: Tree, three: tuple[User, User, User], lecture: Lecture
) -> None:
    reminder = digest_reminder_create(user_ids=[three[0].pk])
    assert reminder is not None
    _run_like_beat(reminder)
    own = Reminder.objects.create(
        lecture=lecture, kind=ReminderKind.CUSTOM, due_at=timezone.now(), note="x"
    )
    organiser.user_permissions.set(
        Permission.objects.filter(content_type__app_label="notifications")
    )
    client.force_login(organiser)
    listed = client.get(reverse("admin:notifications_reminder_changelist"))
    assert [r.pk for r in listed.context["cl"].queryset] == [own.pk]
    page = client.get(reverse("admin:notifications_reminder_change", args=[reminder.pk]))
    assert page.status_code == 403
    deliveries = client.get(reverse("admin:notifications_delivery_changelist"))
    assert not [d for d in deliveries.context["cl"].queryset if d.reminder_id == reminder.pk]
    add = client.get(reverse("admin:notifications_reminder_add"))
    kinds = [value for value, _label in add.context["adminform"].form.fields["kind"].choices]
    assert "digest" not in kinds
    assert "ranking" not in kinds
    assert add.context["adminform"].form.fields["lecture"].required
    assert [r.pk for r in selectors.reminder_list_managed(user=organiser)] == [own.pk]

    root = UserFactory(username="d-root", unit=tree.province, is_staff=True, is_superuser=True)
    client.force_login(root)
    listed = client.get(reverse("admin:notifications_reminder_changelist"))
    assert reminder.pk in [r.pk for r in listed.context["cl"].queryset]
    page = client.get(reverse("admin:notifications_reminder_change", args=[reminder.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "学习群有新的讨论" in html  # the preview
    assert 'name="due_at_0"' not in html  # shown, not editable
    changed = client.post(
        reverse("admin:notifications_reminder_change", args=[reminder.pk]),
        {"kind": "digest", "due_at_0": "2030-01-01", "due_at_1": "10:00", "note": "x"},
    )
    assert changed.status_code == 403
