"""An opt-out ("no push notices" or a programme opt-out) withdraws the user's push rows
still queued, in the transaction that saves it; rows already sending or sent are left
alone and the in-site inbox is always kept."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from courses.models import Lecture, Programme
from notifications import services
from notifications.models import (
    Delivery,
    NotifyPreference,
    ProgrammeOptOut,
    Reminder,
    ReminderKind,
)
from notifications.providers.console import ConsoleProvider
from notifications.services import preferences
from portal.models import AuditLog, User
from tests.conftest import Tree
from tests.factories import EnrolmentFactory, LectureFactory, ProgrammeFactory, UserFactory
from tests.notifications.conftest import reminder_plan_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_lecture(programme: Programme, tree: Tree, cohort: list[User]) -> Lecture:
    """A lecture of a second programme the whole cohort is enrolled in too."""
    other = ProgrammeFactory(organiser_unit=tree.hangzhou, audience=[tree.hangzhou])
    for user in cohort:
        EnrolmentFactory(user=user, programme=other)
    return LectureFactory(programme=other, sequence=1)


def _statuses(user: User) -> dict[tuple[int, str], tuple[str, str]]:
    return {
        (d.reminder_id, d.channel): (d.status, d.error_code)
        for d in Delivery.objects.filter(user=user)
    }


def _opt_out(user: User, *, everything: bool = False, programmes: list[int] | None = None) -> None:
    services.notify_preference_update(
        user=user, channel_order=[], opted_out=everything, programme_opt_outs=programmes or []
    )


def test_no_push_at_all_withdraws_queued_push_rows_of_every_programme(
    lecture: Lecture, other_lecture: Lecture, cohort: list[User]
) -> None:
    first = reminder_plan_now(lecture)
    second = reminder_plan_now(other_lecture)
    user, neighbour = cohort[0], cohort[1]

    _opt_out(user, everything=True)

    assert _statuses(user) == {
        (first.pk, "inbox"): ("queued", ""),
        (first.pk, "sms"): ("cancelled", "opted_out"),
        (second.pk, "inbox"): ("queued", ""),
        (second.pk, "sms"): ("cancelled", "opted_out"),
    }
    assert {s for s, _code in _statuses(neighbour).values()} == {"queued"}
    log = AuditLog.objects.get(action="notify.opt_out_withdraw")
    assert (log.user, log.detail) == (user, {"cancelled": 2, "programmes": None})
    # nothing goes out to the user; the inbox still gets the notices
    services.delivery_dispatch(channel="sms", time_budget=5)
    services.delivery_dispatch(channel="inbox", time_budget=5)
    pushed = {m.address for channel, m in ConsoleProvider.sent if channel == "sms"}
    assert user.phone not in pushed
    assert len(pushed) == 4
    assert Delivery.objects.get(reminder=first, user=user, channel="inbox").status == "delivered"


def test_programme_opt_out_withdraws_only_that_programmes_rows(
    lecture: Lecture, other_lecture: Lecture, cohort: list[User], programme: Programme
) -> None:
    opted = reminder_plan_now(lecture)
    opted_custom = reminder_plan_now(lecture, kind=ReminderKind.CUSTOM)
    kept = reminder_plan_now(other_lecture)
    user = cohort[0]

    _opt_out(user, programmes=[programme.pk])

    statuses = _statuses(user)
    assert statuses[(opted.pk, "sms")] == ("cancelled", "programme_opt_out")
    assert statuses[(opted_custom.pk, "sms")] == ("cancelled", "programme_opt_out")
    assert statuses[(kept.pk, "sms")] == ("queued", "")
    assert {statuses[(r.pk, "inbox")] for r in (opted, opted_custom, kept)} == {("queued", "")}


def test_rows_already_sending_or_sent_are_left_alone(
    lecture: Lecture, cohort: list[User], programme: Programme
) -> None:
    user = cohort[0]
    sending, accepted, queued = (
        reminder_plan_now(lecture, kind=ReminderKind.CUSTOM) for _i in range(3)
    )
    rows = Delivery.objects.filter(user=user, channel="sms")
    rows.filter(reminder=sending).update(status="sending", claimed_at=timezone.now())
    rows.filter(reminder=accepted).update(status="accepted", provider_message_id="m1")

    _opt_out(user, everything=True, programmes=[programme.pk])

    statuses = _statuses(user)
    assert statuses[(sending.pk, "sms")] == ("sending", "")
    assert statuses[(accepted.pk, "sms")] == ("accepted", "")
    assert statuses[(queued.pk, "sms")] == ("cancelled", "opted_out")


def test_withdrawal_and_preference_are_one_transaction(
    lecture: Lecture, cohort: list[User], programme: Programme, monkeypatch: pytest.MonkeyPatch
) -> None:
    reminder = reminder_plan_now(lecture)
    user = cohort[0]
    original = services.delivery_withdraw_opted_out

    def withdraw_then_fail(**kwargs: Any) -> int:
        assert original(**kwargs) == 1
        raise RuntimeError("database gone")

    monkeypatch.setattr(preferences, "delivery_withdraw_opted_out", withdraw_then_fail)
    with pytest.raises(RuntimeError):
        _opt_out(user, everything=True, programmes=[programme.pk])

    assert not NotifyPreference.objects.filter(user=user).exists()
    assert not ProgrammeOptOut.objects.filter(user=user).exists()
    assert Delivery.objects.get(reminder=reminder, user=user, channel="sms").status == "queued"
    assert not AuditLog.objects.filter(action="notify.opt_out_withdraw").exists()


def test_changing_only_the_channel_order_withdraws_nothing(
    lecture: Lecture, cohort: list[User]
) -> None:
    reminder_plan_now(lecture)
    services.notify_preference_update(
        user=cohort[0], channel_order=["sms"], opted_out=False, programme_opt_outs=[]
    )
    assert {s for s, _code in _statuses(cohort[0]).values()} == {"queued"}


def test_opting_back_in_does_not_resurrect_withdrawn_rows(
    lecture: Lecture, cohort: list[User]
) -> None:
    reminder = reminder_plan_now(lecture)
    user = cohort[0]
    _opt_out(user, everything=True)
    _opt_out(user)  # back in
    assert Delivery.objects.get(reminder=reminder, user=user, channel="sms").status == "cancelled"
    # … the next reminder reaches them again
    later = reminder_plan_now(lecture, kind=ReminderKind.CUSTOM)
    assert Delivery.objects.get(reminder=later, user=user, channel="sms").status == "queued"


def test_a_reminder_whose_last_rows_were_withdrawn_finishes(
    lecture: Lecture, cohort: list[User]
) -> None:
    reminder = reminder_plan_now(lecture)
    services.delivery_dispatch(channel="inbox", time_budget=5)
    for user in cohort:
        _opt_out(user, everything=True)
    services.delivery_sweep()
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.DONE


def test_the_preferences_page_withdraws_in_its_save(
    client: Client, lecture: Lecture, cohort: list[User], programme: Programme
) -> None:
    reminder = reminder_plan_now(lecture)
    user = cohort[0]
    client.force_login(user)
    response = client.post(
        reverse("notifications:preferences"),
        {
            "choice_1": "",
            "choice_2": "",
            "choice_3": "",
            "choice_4": "",
            "programmes": [programme.pk],
        },
    )
    assert response.status_code == 302
    assert Delivery.objects.get(reminder=reminder, user=user, channel="sms").error_code == (
        "programme_opt_out"
    )


def test_setting_no_push_in_the_admin_withdraws_too(
    client: Client, lecture: Lecture, cohort: list[User], tree: Tree
) -> None:
    reminder = reminder_plan_now(lecture)
    user = cohort[0]
    admin_user = UserFactory(username="root", unit=tree.province, is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:notifications_notifypreference_add"),
        {"user": user.pk, "channel_order": "", "opted_out": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = Delivery.objects.get(reminder=reminder, user=user, channel="sms")
    assert (row.status, row.error_code) == ("cancelled", "opted_out")
    assert AuditLog.objects.get(action="notify.opt_out_withdraw").user == admin_user


def test_resend_failed_leaves_opted_out_users_failed(
    lecture: Lecture, cohort: list[User], programme: Programme
) -> None:
    reminder = reminder_plan_now(lecture)
    Delivery.objects.filter(reminder=reminder, channel="sms").update(status="failed")
    _opt_out(cohort[0], everything=True)
    _opt_out(cohort[1], programmes=[programme.pk])

    assert services.reminder_resend_failed(reminder_id=reminder.pk, by=None) == 3

    statuses = {
        d.user_id: d.status for d in Delivery.objects.filter(reminder=reminder, channel="sms")
    }
    assert [statuses[u.pk] for u in cohort] == ["failed", "failed", "queued", "queued", "queued"]
