"""The notices that went out before the demo evening: the 24 h and 1 h reminders of every
lecture that has started, planned and sent through the real pipeline (the outbox, the
providers of the embedded default, the inbox) as of their due time, so the inbox of every
demo cadre and the delivery admin show them. Later lectures keep scheduled reminders that
the beat sends when they fall due.

Idempotent: a reminder already done is left alone; re-planning inserts only what is missing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from courses.models import Programme
from notifications.models import Delivery, InboxMessage, Reminder
from notifications.services import delivery_dispatch, reminder_finish_done, reminder_plan
from notifications.services.reminders import DEFAULT_OFFSETS


def notices_history_seed(*, programme: Programme, now: datetime) -> int:
    """Send the default reminders of the programme's started lectures as of their due
    time; returns how many reminders went out now."""
    sent = 0
    console = logging.getLogger("notifications.console")
    quiet, console.disabled = console.disabled, True  # thousands of demo SMS lines
    try:
        for lecture in programme.lectures.filter(starts_at__lte=now).order_by("sequence"):
            for kind, offset in DEFAULT_OFFSETS.items():
                due_at = lecture.starts_at - offset
                reminder, _created = Reminder.objects.get_or_create(
                    lecture=lecture, kind=kind, defaults={"due_at": due_at}
                )
                if reminder.status != Reminder.Status.SCHEDULED:
                    continue
                if reminder.due_at != due_at:
                    reminder.due_at = due_at
                    reminder.save(update_fields=["due_at"])
                reminder_plan(reminder_id=reminder.pk, now=due_at)
                channels = set(
                    Delivery.objects.filter(reminder=reminder).values_list("channel", flat=True)
                )
                for channel in sorted(channels):
                    delivery_dispatch(channel=channel, time_budget=60.0)
                reminder_finish_done(now=due_at)
                # They went out at their time, not when the demo was seeded.
                InboxMessage.objects.filter(reminder=reminder).update(created_at=due_at)
                Delivery.objects.filter(reminder=reminder).update(
                    created_at=due_at, updated_at=due_at, next_attempt_at=due_at
                )
                sent += 1
    finally:
        console.disabled = quiet
    return sent
