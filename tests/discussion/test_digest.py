"""The daily digest: once per person per day, only with something unread and unseen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from discussion import services
from discussion.digests import digest_candidates, digest_plan, digest_plan_due
from discussion.models import DigestPlan, Post, StudyGroup
from notifications.models import Delivery, Reminder, ReminderKind
from notifications.services.planning import reminder_plan
from portal.models import User
from tests.discussion.conftest import access_of, lecture_thread

pytestmark = pytest.mark.django_db(transaction=True)


def _post(user: User, group: StudyGroup, cid: str) -> Post:
    thread = lecture_thread(group)
    return services.post_create(
        access=access_of(user, group), thread_id=thread.pk, text=f"帖子 {cid}", client_id=cid
    ).post


def test_nothing_unread_plans_nothing(group: StudyGroup) -> None:
    assert digest_plan().planned == 0
    assert not DigestPlan.objects.exists()
    assert not Reminder.objects.filter(kind=ReminderKind.DIGEST).exists()


def test_one_digest_per_person_per_day_through_the_outbox(
    group: StudyGroup, member: User, member2: User
) -> None:
    _post(member, group, "a")
    _post(member, group, "b")
    assert digest_candidates() == {member2.pk: 2}  # not the author: own posts are read
    first = digest_plan()
    assert first.planned == 1 and first.reminder_id is not None
    _post(member, group, "c")
    assert digest_plan().planned == 0  # already planned today
    assert DigestPlan.objects.get(user=member2).reminder_id == first.reminder_id
    reminder = Reminder.objects.get(pk=first.reminder_id)
    assert reminder.kind == ReminderKind.DIGEST and reminder.lecture_id is None
    reminder_plan(reminder_id=reminder.pk)
    inbox = Delivery.objects.filter(reminder=reminder, channel="inbox")
    assert list(inbox.values_list("user_id", flat=True)) == [member2.pk]
    tomorrow = timezone.now() + timedelta(days=1)
    assert digest_plan(now=tomorrow).planned == 1  # a new day, still unread
    assert DigestPlan.objects.filter(user=member2).count() == 2


def test_no_digest_for_people_who_have_been_online_since(
    group: StudyGroup, member: User, member2: User
) -> None:
    _post(member, group, "a")
    thread = lecture_thread(group)
    # member2 opens another page of the discussion after the post: they have been online
    services.read_mark(user=member2, thread=thread, last_post_id=0)
    assert digest_candidates() == {}
    assert digest_plan().planned == 0


def test_the_hourly_beat_waits_for_the_digest_hour(
    group: StudyGroup, member: User, member2: User, settings: Any
) -> None:
    _post(member, group, "a")
    settings.DISCUSSION_DIGEST_HOUR = 18
    morning = timezone.localtime().replace(hour=9, minute=5)
    evening = morning.replace(hour=18)
    assert digest_plan_due(now=morning) is None
    result = digest_plan_due(now=evening)
    assert result is not None and result.planned == 1
