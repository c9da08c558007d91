"""The daily digest: one notice a day at most, to members with unread study-group posts
who have not been to the discussion since those posts arrived (docs/discussion.md).

Beat calls ``digest_plan_due`` hourly; from DISCUSSION_DIGEST_HOUR (local time) on it plans
today's digests: a ``DigestPlan`` row per person and day (unique: a second run, or a second
beat, plans nobody twice) and ONE digest notice for all of them through the notifications
outbox (inbox always; SMS / WeChat / DingTalk / 浙政钉 per each person's preferences).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from discussion.models import DigestPlan, GroupMember, Post, ReadMarker, StudyGroup, Thread
from notifications.services.digests import digest_reminder_create

logger = logging.getLogger(__name__)


def digest_candidates() -> dict[int, int]:
    """{user id: unread posts} for members of active groups with published posts by others
    newer than their marker in a thread AND newer than their last visit to any thread (no
    visit yet: since they joined). One set-based query."""
    sql = f"""
        SELECT gm.user_id, COUNT(p.id)
        FROM {GroupMember._meta.db_table} gm
        JOIN {StudyGroup._meta.db_table} g ON g.id = gm.group_id AND g.is_active
        JOIN {Thread._meta.db_table} t ON t.space_id = g.space_id
        JOIN {Post._meta.db_table} p ON p.thread_id = t.id
             AND p.status = %s AND p.author_id <> gm.user_id
        LEFT JOIN {ReadMarker._meta.db_table} rm
             ON rm.user_id = gm.user_id AND rm.thread_id = t.id
        LEFT JOIN (
            SELECT user_id, MAX(read_at) AS seen FROM {ReadMarker._meta.db_table}
            GROUP BY user_id
        ) v ON v.user_id = gm.user_id
        WHERE p.id > COALESCE(rm.last_post_id, 0)
          AND p.created_at > COALESCE(v.seen, gm.added_at)
        GROUP BY gm.user_id
    """  # noqa: S608  (table names from the models, values as parameters)
    with connection.cursor() as cur:
        cur.execute(sql, [Post.Status.PUBLISHED])
        return {int(user_id): int(n) for user_id, n in cur.fetchall()}


@dataclass(frozen=True)
class DigestResult:
    day: str
    planned: int
    reminder_id: int | None


def digest_plan(*, now: datetime | None = None) -> DigestResult:
    """Plan today's digests now (idempotent per person and day)."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    candidates = digest_candidates()
    if not candidates:
        return DigestResult(str(day), 0, None)
    with transaction.atomic():
        DigestPlan.objects.bulk_create(
            [DigestPlan(user_id=u, day=day, unread=n) for u, n in candidates.items()],
            ignore_conflicts=True,
            batch_size=5000,
        )
        # ours: today's rows without a notice yet (a concurrent run's rows are either
        # committed with their notice or invisible until then)
        mine = list(
            DigestPlan.objects.select_for_update(skip_locked=True)
            .filter(day=day, reminder_id__isnull=True, user_id__in=list(candidates))
            .values_list("pk", "user_id")
        )
        if not mine:
            return DigestResult(str(day), 0, None)
        reminder = digest_reminder_create(user_ids=[u for _pk, u in mine], now=now)
        reminder_id = reminder.pk if reminder is not None else None
        DigestPlan.objects.filter(pk__in=[pk for pk, _u in mine]).update(reminder_id=reminder_id)
    logger.info("discussion digest %s: %s people", day, len(mine))
    return DigestResult(str(day), len(mine), reminder_id)


def digest_plan_due(*, now: datetime | None = None) -> DigestResult | None:
    """Beat's hourly call: plans from DISCUSSION_DIGEST_HOUR on, nothing before."""
    now = now or timezone.now()
    if timezone.localtime(now).hour < int(settings.DISCUSSION_DIGEST_HOUR):
        return None
    return digest_plan(now=now)
