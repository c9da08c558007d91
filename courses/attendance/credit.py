"""Attendance use cases: heartbeat credit, the buffer flush, overrides, the study record.

``attendance_heartbeat`` is the hot path (no SQL write; see ``attendance_buffer``);
``attendance_heartbeat_async`` is the same for the websocket's event loop (no thread hop).
``attendance_flush`` moves buffered credit into ``Attendance`` rows with one
``INSERT ... ON CONFLICT DO UPDATE`` per batch; each row remembers the flush that last added
to it, so a flush resumed after a crash adds nothing twice.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from courses.attendance.buffer import (
    LIVE,
    REPLAY,
    AttendanceBuffer,
    Credit,
    Entry,
    MemoryBuffer,
    buffer_get,
)
from courses.attendance.hot_settings import hot_settings
from courses.attendance.rules import credit_with_bonus, study_hour_rule_for
from courses.models import Attendance, AttendanceOverride, Lecture, StudyHourRule
from courses.summaries.sync import attendance_summaries_sync, attendance_summaries_sync_staged
from portal.bulk import copy_rows, copy_supported
from portal.models import User
from portal.process_state import process_state_reset
from portal.services import audit_log_write

T = TypeVar("T")
# ---------------------------------------------------------------------------------------
# Heartbeats
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LectureTimes:
    starts: float
    ends: float
    forced: str  # Lecture.status_override
    replays_count: bool


_lecture_cache: dict[int, tuple[float, _LectureTimes | None]] = {}
_LECTURE_CACHE_SECONDS = 15.0
_last_local_flush = time.monotonic()
_local_flush_lock = threading.Lock()


@process_state_reset
def lecture_cache_clear() -> None:
    _lecture_cache.clear()
    _times_loading.clear()


def _lecture_times_cached(lecture_id: int) -> tuple[bool, _LectureTimes | None]:
    """(True, the schedule or None for no such lecture) when cached and fresh, else
    (False, None): the event loop's check before it hops to a thread for the query."""
    hit = _lecture_cache.get(lecture_id)
    if hit is not None and time.monotonic() - hit[0] < _LECTURE_CACHE_SECONDS:
        return True, hit[1]
    return False, None


def _lecture_times(lecture_id: int) -> _LectureTimes | None:
    """The lecture's schedule, cached briefly in process memory (no SQL per heartbeat)."""
    fresh, times = _lecture_times_cached(lecture_id)
    if fresh:
        return times
    now = time.monotonic()
    row = (
        Lecture.objects.filter(pk=lecture_id)
        .values_list("starts_at", "ends_at", "status_override", "programme__replays_count")
        .first()
    )
    times = (
        _LectureTimes(row[0].timestamp(), row[1].timestamp(), row[2], bool(row[3]))
        if row is not None
        else None
    )
    _lecture_cache[lecture_id] = (now, times)
    return times


def _credit_mode(
    *, times: _LectureTimes | None, epoch: float, playing: bool, replay: bool
) -> str | None:
    """Which credit (live or replay) this heartbeat may earn now, if any."""
    if times is None or not playing:
        return None
    forced_end = times.forced == Lecture.Override.ENDED
    grace = hot_settings().grace_seconds  # = int(settings.ATTENDANCE_GRACE_SECONDS)
    live_open = not forced_end and times.starts <= epoch <= times.ends + grace
    if not replay:
        return LIVE if live_open else None
    if not forced_end and epoch < times.ends:
        return None  # no replay of a lecture still running
    if live_open:
        # The grace after the end: a replay frame earns the same live window as a live
        # frame would, so a stale live tab next to a replay tab cannot count twice.
        return LIVE
    return REPLAY if times.replays_count else None


def _flushed_totals(*, user_id: int, lecture_id: int) -> tuple[int, int]:
    row = (
        Attendance.objects.filter(user_id=user_id, lecture_id=lecture_id)
        .values_list("live_seconds", "replay_seconds")
        .first()
    )
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _heartbeat_credit(
    *, user_id: int, lecture_id: int, times: _LectureTimes | None, playing: bool, replay: bool
) -> Credit:
    """The credit rules of one heartbeat, on the server clock (shared by both paths)."""
    now = time.time()  # = timezone.now().timestamp(), without the settings look-up
    window_seconds = hot_settings().heartbeat_seconds  # ATTENDANCE_HEARTBEAT_SECONDS
    return Credit(
        lecture_id=lecture_id,
        user_id=user_id,
        mode=_credit_mode(times=times, epoch=now, playing=playing, replay=replay),
        window=int(now // window_seconds),
        seconds=window_seconds,
        now_epoch=int(now),
    )


def attendance_heartbeat(*, user: User, lecture_id: int, playing: bool, replay: bool) -> int:
    """Credit the current heartbeat window to ``user`` (the caller's authenticated user,
    never an id from the client) and return the user's total credited seconds for the
    lecture (flushed + buffered). Returns only after the buffer write succeeded.

    The window is ``floor(now / ATTENDANCE_HEARTBEAT_SECONDS)`` on the server clock; the
    client never states durations. Live credit only while the lecture runs (plus
    ``ATTENDANCE_GRACE_SECONDS``; a replay frame in the grace earns that same live window);
    replay credit only after the grace and only when the programme lets replays count;
    nothing unless the player is playing.
    """
    user_id = int(user.pk)
    credit = _heartbeat_credit(
        user_id=user_id,
        lecture_id=lecture_id,
        times=_lecture_times(lecture_id),
        playing=playing,
        replay=replay,
    )
    buffer = buffer_get()
    live, replayed = buffer.credit(
        credit,
        seed=lambda: _flushed_totals(user_id=user_id, lecture_id=lecture_id),
    )
    if isinstance(buffer, MemoryBuffer):
        _maybe_flush_locally(buffer)
    return live + replayed


async def attendance_heartbeat_async(
    *, user_id: int, lecture_id: int, playing: bool, replay: bool
) -> int:
    """``attendance_heartbeat`` for the websocket's event loop, with the same rules and
    result. ``user_id`` is the socket's authenticated user, never an id from the client.

    No thread hop on the common path: the lecture's schedule comes from the process cache
    and the credit is one awaited Redis script call (pipelined with the heartbeats that
    arrive together). Only a cold cache (the schedule, or the user's flushed totals) or a
    due local flush of the in-process buffer runs in a worker thread.
    """
    fresh, times = _lecture_times_cached(lecture_id)  # no coroutine while cached
    credit = _heartbeat_credit(
        user_id=user_id,
        lecture_id=lecture_id,
        times=times if fresh else await _lecture_times_async(lecture_id),
        playing=playing,
        replay=replay,
    )
    buffer = buffer_get()
    live, replayed = await buffer.credit_async(
        credit,
        seed=lambda: _in_thread(_flushed_totals, user_id=user_id, lecture_id=lecture_id),
    )
    if isinstance(buffer, MemoryBuffer) and _local_flush_due():
        await _in_thread(_maybe_flush_locally, buffer)
    return live + replayed


_times_loading: dict[int, asyncio.Task[_LectureTimes | None]] = {}


async def _lecture_times_async(lecture_id: int) -> _LectureTimes | None:
    """``_lecture_times`` without a thread hop while cached; on a miss, ONE query in a
    worker thread however many heartbeats are waiting for it."""
    fresh, times = _lecture_times_cached(lecture_id)
    if fresh:
        return times
    task = _times_loading.get(lecture_id)
    if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
        task = asyncio.ensure_future(_in_thread(_lecture_times, lecture_id))
        _times_loading[lecture_id] = task
    return await asyncio.shield(task)  # a caller that goes away does not cancel the query


async def _in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ORM work in a worker thread (not the single thread-sensitive one), closing the
    thread's stale connections like Channels' ``database_sync_to_async``."""

    def run() -> T:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(run, thread_sensitive=False)()


def _local_flush_due() -> bool:
    return time.monotonic() - _last_local_flush >= int(settings.ATTENDANCE_FLUSH_SECONDS)


def _maybe_flush_locally(buffer: AttendanceBuffer) -> None:
    """The in-process buffer lives in the web process, so it flushes itself when due."""
    global _last_local_flush
    if not _local_flush_due() or not _local_flush_lock.acquire(blocking=False):
        return
    try:
        _last_local_flush = time.monotonic()
        attendance_flush(buffer=buffer)
    finally:
        _local_flush_lock.release()


# ---------------------------------------------------------------------------------------
# Flush
# ---------------------------------------------------------------------------------------


@dataclass
class FlushResult:
    flush_id: str | None = None
    rows: int = 0
    batches: int = 0
    skipped_locked: bool = False
    dropped: int = 0  # entries of deleted lectures or users


@dataclass(frozen=True)
class CompletionRule:
    """The completion rule of one lecture: ``threshold_seconds`` of live plus replay watching,
    or a venue check-in, complete it and earn ``credit_hours``."""

    threshold_seconds: int
    credit_hours: Decimal

    def completes(self, *, seconds: int, checked_in: bool) -> bool:
        """The rule in Python (``completed_sql`` is the same rule in SQL)."""
        return checked_in or seconds >= self.threshold_seconds


def completion_rules(*, lecture_ids: Iterable[int]) -> dict[int, CompletionRule]:
    rules: dict[int, CompletionRule] = {}
    for lecture in Lecture.objects.filter(pk__in=list(lecture_ids)).only(
        "pk", "duration_minutes", "completion_ratio", "credit_hours"
    ):
        rules[lecture.pk] = CompletionRule(lecture.completion_seconds, lecture.credit_hours)
    return rules


def completed_sql(*, seconds: str, checked_in: str | None = None) -> str:
    """The completion rule in SQL over a seconds expression (and, where it may be set, the
    check-in column); takes the threshold as one ``%s`` parameter."""
    online = f"({seconds} >= %s)"
    return f"({checked_in} IS NOT NULL OR {online})" if checked_in else online


def _epoch_dt(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value is not None else None


_COLUMNS = (
    "user_id, lecture_id, live_seconds, replay_seconds, first_seen_at, last_seen_at, "
    "completed, credit_hours_earned, last_flush_id, updated_at"
)
_STAGE = "attendance_flush_rows"


def _on_conflict_sql() -> str:
    """Add the batch's seconds to existing rows, unless this flush already did."""
    t, x = Attendance._meta.db_table, "EXCLUDED"
    postgres = connection.vendor == "postgresql"
    least, greatest = ("LEAST", "GREATEST") if postgres else ("MIN", "MAX")
    differs = "IS DISTINCT FROM" if postgres else "IS NOT"
    done = completed_sql(
        seconds=f"{t}.live_seconds + {x}.live_seconds + {t}.replay_seconds + {x}.replay_seconds",
        checked_in=f"{t}.checked_in_at",
    )
    return (
        "ON CONFLICT (user_id, lecture_id) DO UPDATE SET "
        f"live_seconds = {t}.live_seconds + {x}.live_seconds, "
        f"replay_seconds = {t}.replay_seconds + {x}.replay_seconds, "
        f"first_seen_at = COALESCE({least}({t}.first_seen_at, {x}.first_seen_at), "
        f"{t}.first_seen_at, {x}.first_seen_at), "
        f"last_seen_at = COALESCE({greatest}({t}.last_seen_at, {x}.last_seen_at), "
        f"{t}.last_seen_at, {x}.last_seen_at), "
        f"completed = {done}, "
        f"credit_hours_earned = CASE WHEN {done} THEN %s ELSE 0 END, "
        f"last_flush_id = {x}.last_flush_id, "
        f"updated_at = {x}.updated_at "
        f"WHERE {t}.last_flush_id {differs} {x}.last_flush_id"
    )


def _write_batch(
    *, lecture_id: int, rule: CompletionRule, batch: list[tuple[int, Entry]], flush_id: str
) -> tuple[int, int]:
    """Upsert one batch in one transaction; returns (rows written, rows of deleted users)."""
    table = Attendance._meta.db_table
    user_table = User._meta.db_table
    params: list[Any] = [rule.threshold_seconds, rule.threshold_seconds, rule.credit_hours]
    threshold, hours = rule.threshold_seconds, rule.credit_hours
    now = timezone.now()
    # Only constant identifiers are formatted into the SQL; every value is a parameter.
    with transaction.atomic(), connection.cursor() as cursor:
        if copy_supported():
            # COPY into a temporary table, then one set-based upsert (~10x the VALUES path).
            cursor.execute(
                f"CREATE TEMP TABLE {_STAGE} (user_id bigint, live_seconds integer, "
                "replay_seconds integer, first_epoch bigint, last_epoch bigint) ON COMMIT DROP"
            )
            copy_rows(
                table=_STAGE,
                columns=("user_id", "live_seconds", "replay_seconds", "first_epoch", "last_epoch"),
                rows=((uid, e.live, e.replay, e.first, e.last) for uid, e in batch),
                cursor=cursor,
            )
            # Batch statements of known shape: JIT compiling costs more than it saves, and
            # the planner needs the staged row count to join by index.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(f"ANALYZE {_STAGE}")
            cursor.execute(
                f"DELETE FROM {_STAGE} s WHERE NOT EXISTS "  # noqa: S608
                f"(SELECT 1 FROM {user_table} u WHERE u.id = s.user_id)"
            )
            dropped = max(cursor.rowcount, 0)
            done = completed_sql(seconds="s.live_seconds + s.replay_seconds")
            cursor.execute(
                f"INSERT INTO {table} ({_COLUMNS}, checked_in_at, venue_id) "  # noqa: S608
                "SELECT s.user_id, %s, s.live_seconds, s.replay_seconds, "
                "to_timestamp(s.first_epoch), to_timestamp(s.last_epoch), "
                f"{done}, CASE WHEN {done} THEN %s ELSE 0 END, %s, %s, NULL, NULL "
                f"FROM {_STAGE} s " + _on_conflict_sql(),
                [lecture_id, threshold, threshold, hours, flush_id, now, *params],
            )
            attendance_summaries_sync_staged(lecture_id=lecture_id, stage_table=_STAGE)
            cursor.execute(f"DROP TABLE {_STAGE}")  # also when nested in an outer atomic
            return len(batch) - dropped, dropped
        alive = set(
            User.objects.filter(pk__in=[uid for uid, _e in batch]).values_list("pk", flat=True)
        )
        values: list[Any] = []
        for uid, e in batch:
            if uid not in alive:
                continue
            complete = e.live + e.replay >= threshold
            values += [uid, lecture_id, e.live, e.replay, _epoch_dt(e.first), _epoch_dt(e.last)]
            values += [complete, hours if complete else Decimal("0"), flush_id, now]
        kept = len(values) // 10
        if kept:
            rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL)"] * kept)
            cursor.execute(
                f"INSERT INTO {table} ({_COLUMNS}, checked_in_at, venue_id) "  # noqa: S608
                f"VALUES {rows} " + _on_conflict_sql(),
                values + params,
            )
            attendance_summaries_sync(lecture_id=lecture_id, user_ids=[u for u, _e in batch])
        return kept, len(batch) - kept


def attendance_flush(*, buffer: AttendanceBuffer | None = None) -> FlushResult:
    """Move buffered credit into ``Attendance`` rows. Safe to run at any time, twice, or
    again after dying half-way: the batch leaves the buffer only after every row of it
    is committed, and rows already stamped with the batch's flush id are skipped."""
    buffer = buffer or buffer_get()
    result = FlushResult()
    with buffer.flush_lock() as got:
        if not got:
            result.skipped_locked = True
            return result
        flush_id = buffer.flush_begin()
        if flush_id is None:
            return result
        result.flush_id = flush_id
        entries = buffer.flush_read(flush_id)
        by_lecture: dict[int, list[tuple[int, Entry]]] = defaultdict(list)
        for (lecture_id, user_id), entry in entries.items():
            by_lecture[lecture_id].append((user_id, entry))
        rules = completion_rules(lecture_ids=by_lecture)
        size = int(settings.ATTENDANCE_FLUSH_BATCH)
        if connection.vendor == "sqlite":
            size = min(size, 3000)  # SQLite's bound-parameter limit
        for lecture_id in sorted(by_lecture):
            pending = sorted(by_lecture[lecture_id], key=lambda item: item[0])
            rule = rules.get(lecture_id)
            if rule is None:  # the lecture was deleted
                result.dropped += len(pending)
                continue
            for start in range(0, len(pending), size):
                written, dropped = _write_batch(
                    lecture_id=lecture_id,
                    rule=rule,
                    batch=pending[start : start + size],
                    flush_id=flush_id,
                )
                result.rows += written
                result.dropped += dropped
                result.batches += 1
        buffer.flush_end(flush_id)
    return result


# ---------------------------------------------------------------------------------------
# Organiser corrections
# ---------------------------------------------------------------------------------------


@transaction.atomic
def attendance_override_create(
    *, attendance: Attendance, completed: bool, reason: str, by: User
) -> AttendanceOverride:
    """Record an audited correction; the raw attendance row is left as it is."""
    reason = reason.strip()
    if not reason:
        from django.core.exceptions import ValidationError
        from django.utils.translation import gettext as _

        raise ValidationError({"reason": _("Give a reason for the correction.")})
    # Lock the row first: two concurrent corrections then count in the order they commit.
    Attendance.objects.select_for_update().filter(pk=attendance.pk).values_list("pk").first()
    override = AttendanceOverride.objects.create(
        attendance=attendance, completed=completed, reason=reason[:200], by=by
    )
    attendance_summaries_sync(lecture_id=attendance.lecture_id, user_ids=[attendance.user_id])
    audit_log_write(
        user=by,
        action="attendance.override",
        target=f"attendance:{attendance.pk}",
        detail={"completed": completed, "reason": reason[:200]},
    )
    return override


# ---------------------------------------------------------------------------------------
# The cadre's study record
# ---------------------------------------------------------------------------------------


@dataclass
class StudyLine:
    attendance: Attendance
    lecture: Lecture
    live_minutes: int
    replay_minutes: int
    in_person: bool
    completed: bool
    corrected: bool
    credit_hours: Decimal
    test_passed: bool = False


@dataclass
class StudyTotal:
    label: str
    minutes: int = 0
    completed: int = 0
    lectures: int = 0
    credit_hours: Decimal = Decimal("0")


@dataclass
class StudyRecord:
    lines: list[StudyLine] = field(default_factory=list)
    by_programme: list[StudyTotal] = field(default_factory=list)
    by_year: list[StudyTotal] = field(default_factory=list)
    total: StudyTotal = field(default_factory=lambda: StudyTotal(label=""))


def attendance_study_record(*, user: User) -> StudyRecord:
    """The user's attendance rows (corrections applied), newest lecture first, with totals
    per programme and per calendar year (local time of the lecture's start)."""
    rows = list(
        Attendance.objects.filter(user=user)
        .select_related("lecture", "lecture__programme")
        .prefetch_related("overrides")
        .order_by("-lecture__starts_at")
    )
    record = StudyRecord()
    programmes: dict[int, StudyTotal] = {}
    years: dict[int, StudyTotal] = {}
    rules: dict[int, StudyHourRule] = {}
    for row in rows:
        lecture = row.lecture
        overrides = list(row.overrides.all())  # newest first (Meta.ordering)
        completed = overrides[0].completed if overrides else row.completed
        rule = rules.get(lecture.programme_id)
        if rule is None:
            rule = rules[lecture.programme_id] = study_hour_rule_for(programme=lecture.programme)
        hours = credit_with_bonus(
            rule=rule,
            lecture_hours=lecture.credit_hours,
            completed=completed,
            test_passed=row.test_passed_at is not None,
        )
        line = StudyLine(
            attendance=row,
            lecture=lecture,
            live_minutes=row.live_seconds // 60,
            replay_minutes=row.replay_seconds // 60,
            in_person=row.checked_in_at is not None,
            completed=completed,
            corrected=bool(overrides),
            credit_hours=hours,
            test_passed=row.test_passed_at is not None,
        )
        record.lines.append(line)
        year = timezone.localtime(lecture.starts_at).year
        buckets = (
            programmes.setdefault(lecture.programme_id, StudyTotal(label=lecture.programme.title)),
            years.setdefault(year, StudyTotal(label=str(year))),
            record.total,
        )
        for bucket in buckets:
            bucket.lectures += 1
            bucket.minutes += (row.live_seconds + row.replay_seconds) // 60
            bucket.completed += int(completed)
            bucket.credit_hours += hours
    record.by_programme = list(programmes.values())
    record.by_year = [years[y] for y in sorted(years, reverse=True)]
    return record
