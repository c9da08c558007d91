"""The flush "once more at lecture end" (docs/attendance.md).

Beat runs ``attendance_end_flush`` every ``min(ATTENDANCE_FLUSH_SECONDS, 30)`` seconds. It
looks for lectures whose live-credit window (``ends_at + ATTENDANCE_GRACE_SECONDS``) closed
within the last ``END_FLUSH_LOOKBACK_SECONDS``, or that were force-ended, and that have not
had their end flush; it claims each one with a Redis ``SET NX`` beside the heartbeat buffer
(an expiring "running" claim, turned into "done" after a successful flush), and runs the
ordinary flush once for all of them. The flush is idempotent, so a claim that expires
after a crash only means one more harmless flush.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from courses.attendance.buffer import RedisBuffer, buffer_get
from courses.attendance.credit import FlushResult, attendance_flush
from courses.models import Lecture
from portal.process_state import process_state_reset

END_FLUSH_LOOKBACK_SECONDS = 3600
CLAIM_RUNNING_SECONDS = 600
CLAIM_DONE_SECONDS = END_FLUSH_LOOKBACK_SECONDS + 24 * 3600

_memory_claims: dict[int, tuple[str, float]] = {}
_memory_lock = threading.Lock()


@dataclass
class EndFlushResult:
    lecture_ids: list[int] = field(default_factory=list)  # end-flushed by this call
    flush: FlushResult | None = None


def lecture_ids_due_end_flush(*, now: datetime | None = None) -> list[int]:
    """Lectures whose credit window closed recently (or that were force-ended)."""
    now = now or timezone.now()
    closed_before = now - timedelta(seconds=int(settings.ATTENDANCE_GRACE_SECONDS))
    since = closed_before - timedelta(seconds=END_FLUSH_LOOKBACK_SECONDS)
    window_closed = Q(ends_at__lte=closed_before, ends_at__gt=since)
    forced = Q(status_override=Lecture.Override.ENDED, starts_at__lte=now, ends_at__gt=since)
    return sorted(Lecture.objects.filter(window_closed | forced).values_list("pk", flat=True))


def _key(lecture_id: int) -> str:
    prefix = str(getattr(settings, "ATTENDANCE_REDIS_PREFIX", "zhixing:att:"))
    return f"{prefix}endflush:{lecture_id}"


def _claim(lecture_ids: list[int]) -> list[int]:
    """The ids this caller now owns (each claimed once, until done or expired)."""
    buffer = buffer_get()
    if isinstance(buffer, RedisBuffer):
        pipe = buffer.client.pipeline(transaction=False)
        for lecture_id in lecture_ids:
            pipe.set(_key(lecture_id), "running", nx=True, ex=CLAIM_RUNNING_SECONDS)
        return [lid for lid, ok in zip(lecture_ids, pipe.execute(), strict=True) if ok]
    now = time.monotonic()
    with _memory_lock:
        mine = []
        for lecture_id in lecture_ids:
            held = _memory_claims.get(lecture_id)
            if held is None or held[1] <= now:
                _memory_claims[lecture_id] = ("running", now + CLAIM_RUNNING_SECONDS)
                mine.append(lecture_id)
        return mine


def _settle(lecture_ids: list[int], *, done: bool) -> None:
    """Mark claims done, or release them so the next tick tries again."""
    buffer = buffer_get()
    if isinstance(buffer, RedisBuffer):
        pipe = buffer.client.pipeline(transaction=False)
        for lecture_id in lecture_ids:
            if done:
                pipe.set(_key(lecture_id), "done", ex=CLAIM_DONE_SECONDS)
            else:
                pipe.delete(_key(lecture_id))
        pipe.execute()
        return
    with _memory_lock:
        for lecture_id in lecture_ids:
            if done:
                _memory_claims[lecture_id] = ("done", time.monotonic() + CLAIM_DONE_SECONDS)
            else:
                _memory_claims.pop(lecture_id, None)


@process_state_reset
def attendance_end_flush_reset() -> None:
    """Forget the in-process claims (tests)."""
    with _memory_lock:
        _memory_claims.clear()


def attendance_end_flush(*, now: datetime | None = None) -> EndFlushResult:
    """Flush once more for every lecture whose credit window just closed (idempotent)."""
    result = EndFlushResult()
    claimed = _claim(lecture_ids_due_end_flush(now=now))
    if not claimed:
        return result
    try:
        result.flush = attendance_flush()
    except BaseException:
        _settle(claimed, done=False)
        raise
    if result.flush.skipped_locked:  # a flush is running that may predate the end: retry
        _settle(claimed, done=False)
        return result
    _settle(claimed, done=True)
    result.lecture_ids = claimed
    return result
