"""Discussion digests: a notice to an explicit list of people, about no lecture.

The discussion app (above notifications; notifications never imports it) decides who gets
a digest and makes sure nobody gets two a day; this module only puts it in the outbox::

    digest_reminder_create(user_ids=…) ── one transaction: a Reminder of kind ``digest``
        (no lecture, due now) + one ReminderRecipient per person
    notifications.tick ──▶ claims it like any other ─▶ reminder_plan(): the audience is
        the active recipients ─▶ the outbox (inbox for everyone, plus each user's first
        reachable push channel unless opted out), dispatch, retries, receipts, sweeper.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from notifications.models import Reminder, ReminderKind, ReminderRecipient

logger = logging.getLogger(__name__)

RECIPIENT_BATCH = 5000


def digest_reminder_create(
    *, user_ids: Iterable[int], note: str = "", now: datetime | None = None
) -> Reminder | None:
    """A digest due ``now`` for ``user_ids`` (existing users; repeats are ignored), with
    ``note`` as its text; ``None``, and nothing written, for an empty list.

    Inactive users may be passed: they are left out when the digest is planned."""
    ids = sorted({int(i) for i in user_ids})
    if not ids:
        return None
    now = now or timezone.now()
    with transaction.atomic():
        reminder = Reminder.objects.create(
            kind=ReminderKind.DIGEST,
            lecture=None,
            due_at=now,
            status=Reminder.Status.SCHEDULED,
            note=note[:200],
        )
        ReminderRecipient.objects.bulk_create(
            [ReminderRecipient(reminder=reminder, user_id=i) for i in ids],
            batch_size=RECIPIENT_BATCH,
        )
    logger.info("digest reminder %s: %s recipients", reminder.pk, len(ids))
    return reminder
