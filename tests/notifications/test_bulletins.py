"""通报 after every lecture (issue 5 item 3): subscriptions, idempotent dispatches through
the ordinary outbox (inbox + push channels), the beat task and the scoped admin."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications import services
from notifications.models import (
    Delivery,
    InboxMessage,
    RankingDispatch,
    RankingSubscription,
    Reminder,
    ReminderKind,
)
from notifications.providers.console import ConsoleProvider
from notifications.services.bulletins import ranking_dispatch_create, ranking_dispatch_due
from notifications.tasks import ranking_tick_task
from portal.models import AuditLog, Role, User
from tests.courses.reports.followup_support import World, world_fixture  # noqa: F401 (fixture)
from tests.factories import ProgrammeFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def delay(settings: Any) -> None:
    settings.REPORT_RANKING_DELAY_MINUTES = 30


@pytest.fixture
def leaders(world: World, school_staff: User) -> dict[str, User]:
    tree = world.tree
    yuhang = UserFactory(
        username="yh-lead", full_name="余杭党校", unit=tree.yuhang, phone="13900000001"
    )
    RoleFactory(user=yuhang, kind=Role.Kind.SCHOOL, unit=tree.yuhang)
    town = UserFactory(username="ly-lead", full_name="灵隐街道", unit=tree.lingyin)
    RoleFactory(user=town, kind=Role.Kind.SCHOOL, unit=tree.lingyin)
    ningbo = UserFactory(username="hs-lead", full_name="海曙党校", unit=tree.haishu)
    RoleFactory(user=ningbo, kind=Role.Kind.SCHOOL, unit=tree.haishu)
    return {"xihu": school_staff, "yuhang": yuhang, "town": town, "haishu": ningbo}


def _subscribe(world: World, organiser: User, *, days_ago: float = 10, **extra: Any) -> Any:
    return RankingSubscription.objects.create(
        programme=world.programme,
        level=extra.pop("level", "county"),
        created_by=organiser,
        created_at=timezone.now() - timedelta(days=days_ago),
        **extra,
    )


def _send_all() -> None:
    """What notifications.tick and the dispatchers do, in-process."""
    for reminder_id in services.reminder_claim_due():
        services.reminder_plan(reminder_id=reminder_id)
    for channel in ("inbox", "sms"):
        services.delivery_dispatch(channel=channel, time_budget=2)


def test_ranking_goes_to_every_ranked_units_leaders_and_the_organiser_once(
    world: World, organiser: User, leaders: dict[str, User]
) -> None:
    subscription = _subscribe(world, organiser)
    results = ranking_dispatch_due()
    assert len(results) == 2  # lectures 1 and 2 have ended; 3 is upcoming
    assert all(r.units == 2 for r in results)  # 西湖区 and 余杭区 (Ningbo is not the organiser's)
    _send_all()
    inbox = InboxMessage.objects.filter(reminder__kind=ReminderKind.RANKING)
    got = {(m.user_id, m.reminder.lecture_id) for m in inbox if m.reminder is not None}
    expected = {
        (u.pk, lec.pk)
        for u in (leaders["xihu"], leaders["yuhang"], organiser)
        for lec in (world.first, world.second)
    }
    assert got == expected  # not the township leader, not Ningbo, not the cadres
    text = inbox.get(user=leaders["xihu"], reminder__lecture=world.second).body
    assert "第1名 余杭区" in text and "第2名 西湖区" in text
    assert "出勤率 75.0%" in text
    assert "/reports/ranking/?programme=" in text
    sms = [m for ch, m in ConsoleProvider.sent if ch == "sms" and m.kind == ReminderKind.RANKING]
    assert sorted(m.address for m in sms) == ["13900000001", "13900000001"]
    # Re-running beat, planning and dispatching sends nothing more.
    deliveries = Delivery.objects.count()
    assert ranking_dispatch_due() == []
    for reminder in Reminder.objects.filter(kind=ReminderKind.RANKING):
        services.reminder_plan(reminder_id=reminder.pk)
    _send_all()
    assert Delivery.objects.count() == deliveries
    assert inbox.count() == 6
    assert RankingDispatch.objects.filter(subscription=subscription).count() == 2


def test_waits_for_the_delay_after_the_end(world: World, organiser: User) -> None:
    _subscribe(world, organiser)
    world.third.starts_at = timezone.now() - timedelta(minutes=100)  # 90 min: ended 10 min ago
    world.third.save()
    assert {r.dispatch_id for r in ranking_dispatch_due()} and not RankingDispatch.objects.filter(
        lecture=world.third
    ).exists()
    later = timezone.now() + timedelta(minutes=21)
    results = ranking_dispatch_due(now=later)
    assert [RankingDispatch.objects.get(pk=r.dispatch_id).lecture for r in results] == [world.third]


def test_lectures_before_the_subscription_are_not_sent(world: World, organiser: User) -> None:
    _subscribe(world, organiser, days_ago=0)
    assert ranking_dispatch_due() == []
    later = world.third.ends_at + timedelta(minutes=31)
    assert len(ranking_dispatch_due(now=later)) == 1


def test_inactive_subscription_sends_nothing(world: World, organiser: User) -> None:
    _subscribe(world, organiser, active=False)
    assert ranking_dispatch_due() == []


def test_organiser_without_the_area_gets_no_units(world: World, organiser: User) -> None:
    subscription = _subscribe(world, organiser, unit=world.tree.haishu, level="township")
    result = ranking_dispatch_create(subscription=subscription, lecture=world.first)
    assert result is not None
    assert (result.units, result.reminder_id) == (0, None)
    assert ranking_dispatch_create(subscription=subscription, lecture=world.first) is None


def test_beat_task_is_registered_and_idempotent(
    world: World, organiser: User, settings: Any
) -> None:
    _subscribe(world, organiser)
    assert settings.CELERY_BEAT_SCHEDULE["notifications-ranking"]["task"] == (
        "notifications.ranking_tick"
    )
    ranking_tick_task()
    ranking_tick_task()
    assert Reminder.objects.filter(kind=ReminderKind.RANKING).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_beats_send_once(world: World, organiser: User) -> None:
    _subscribe(world, organiser)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            ranking_dispatch_due()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert RankingDispatch.objects.count() == 2
    assert Reminder.objects.filter(kind=ReminderKind.RANKING).count() == 2


def test_reminder_text_on_each_channel(world: World, organiser: User) -> None:
    _subscribe(world, organiser)
    ranking_dispatch_due()
    reminder = Reminder.objects.filter(kind=ReminderKind.RANKING).order_by("pk").last()
    assert reminder is not None
    inbox = services.message_render(reminder=reminder, channel="inbox")
    assert inbox.subject.endswith("学习情况通报")
    assert "/reports/ranking/" in inbox.link
    sms = services.message_render(reminder=reminder, channel="sms")
    assert "站内信" in sms.body and len(sms.body) <= 140


# ---------------------------------------------------------------------------------------
# Admin
# ---------------------------------------------------------------------------------------


@pytest.fixture
def organiser_client(client: Client, organiser: User) -> Client:
    organiser.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="notifications",
            codename__in=[
                "add_rankingsubscription",
                "change_rankingsubscription",
                "view_rankingsubscription",
                "delete_rankingsubscription",
                "add_reminder",
                "view_reminder",
            ],
        )
    )
    client.force_login(organiser)
    return client


def test_admin_is_scoped_to_managed_programmes(
    organiser_client: Client, world: World, organiser: User
) -> None:
    own = _subscribe(world, organiser)
    other_programme = ProgrammeFactory(organiser_unit=world.tree.ningbo)
    other = RankingSubscription.objects.create(programme=other_programme, level="county")
    page = organiser_client.get(reverse("admin:notifications_rankingsubscription_changelist"))
    assert page.status_code == 200
    assert own.programme.title in page.content.decode()
    assert other_programme.title not in page.content.decode()
    denied = organiser_client.get(
        reverse("admin:notifications_rankingsubscription_change", args=[other.pk])
    )
    assert denied.status_code == 403


def test_admin_add_sets_the_organiser_and_is_audited(
    organiser_client: Client, world: World, organiser: User
) -> None:
    url = reverse("admin:notifications_rankingsubscription_add")
    response = organiser_client.post(
        url,
        {
            "programme": world.programme.pk,
            "level": "county",
            "unit": "",
            "rank_by": "completion",
            "active": "on",
            "dispatches-TOTAL_FORMS": "0",
            "dispatches-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    subscription = RankingSubscription.objects.get()
    assert subscription.created_by == organiser
    assert AuditLog.objects.filter(action="notifications.rankingsubscription.add").exists()
    other_programme = ProgrammeFactory(organiser_unit=world.tree.ningbo)
    response = organiser_client.post(
        url,
        {
            "programme": other_programme.pk,
            "level": "county",
            "rank_by": "attendance",
            "active": "on",
            "dispatches-TOTAL_FORMS": "0",
            "dispatches-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "不在您的管理范围" in response.context["adminform"].form.errors["programme"][0]
    assert RankingSubscription.objects.count() == 1


def test_ranking_kind_cannot_be_chosen_for_a_manual_reminder(organiser_client: Client) -> None:
    page = organiser_client.get(reverse("admin:notifications_reminder_add"))
    assert page.status_code == 200
    assert 'value="ranking"' not in page.content.decode()
