"""Beat's discussion jobs (thin: each calls one use case; idempotent)."""

from __future__ import annotations

from celery import shared_task

from discussion.digests import digest_plan_due
from discussion.services import lecture_threads_ensure


@shared_task(name="discussion.lecture_threads")
def lecture_threads() -> int:
    """Every minute: a thread in each study group for each lecture that just ended."""
    return lecture_threads_ensure()


@shared_task(name="discussion.digest")
def digest() -> int:
    """Hourly: today's digests once DISCUSSION_DIGEST_HOUR has come."""
    result = digest_plan_due()
    return result.planned if result is not None else 0
