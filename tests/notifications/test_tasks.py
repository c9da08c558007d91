"""The beat tasks: tick creates default reminders, claims due ones, kicks dispatchers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from courses.models import Lecture
from notifications import tasks
from notifications.models import Reminder
from portal.models import User

pytestmark = pytest.mark.django_db


def test_tick_creates_claims_and_plans(
    lecture: Lecture, cohort: list[User], monkeypatch: pytest.MonkeyPatch
) -> None:
    lecture.starts_at = timezone.now() + timedelta(minutes=59, seconds=30)
    lecture.save()
    planned: list[int] = []
    kicked: list[str] = []
    monkeypatch.setattr(tasks.notice_plan_task, "delay", lambda rid: planned.append(rid))
    monkeypatch.setattr(
        tasks.notice_dispatch_task, "apply_async", lambda args, queue=None: kicked.append(args[0])
    )
    tasks.notice_tick_task()
    reminder = Reminder.objects.get(lecture=lecture)
    assert reminder.kind == "reminder_1h"  # the 24 h one is long past
    assert planned == [reminder.pk]
    assert reminder_status(reminder) == "planning"
    tasks.notice_plan_task(reminder.pk)  # what the worker runs
    assert reminder_status(reminder) == "dispatching"
    assert "sms" in kicked and "inbox" in kicked
    tasks.notice_tick_task()  # nothing due twice
    assert planned == [reminder.pk]


def reminder_status(reminder: Reminder) -> str:
    reminder.refresh_from_db()
    return reminder.status
