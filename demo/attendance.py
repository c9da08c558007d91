"""Realistic attendance for the demo programme (``seed_demo --attendance [ended|all]``).

Which lectures
    ``ended`` (what ``--attendance`` alone means): every lecture that has ended, plus the
    live one *so far* (live seconds up to now, check-ins at the start). ``all``: all ten
    lectures as if the programme had finished (upcoming lectures get full attendance with
    timestamps in the future: for benchmarks, not for a demo).

Who attends (one ``Attendance`` row per cadre and lecture, like the buffer flush writes)
    Cadres with an active enrolment attend each lecture with a probability set by their
    level (province 95 % … village 76 %), scaled by a fixed factor per city and per county
    (so rankings differ), a little less as the programme goes on. Enrolled cadres assigned
    to a party-school venue mostly watch there (``checked_in_at`` and the venue set, no
    seconds); the others watch online: live (most to the end, some leave early and a part
    of those top up with the replay) or, when the programme lets replays count, replay only.
    A few generated cadres who never enrolled watch some of a lecture live (they are in the
    audience and may watch before enrolling; nothing is credited twice).

Consistency with the flush
    Seconds are whole 30-second heartbeat windows; ``completed`` is "checked in, or live +
    replay seconds ≥ ceil(completion ratio × duration)", and ``credit_hours_earned`` is the
    lecture's credit when completed, else 0: exactly what ``courses.attendance.credit`` writes.

Deterministic and idempotent
    Every cadre draws from their own RNG (seeded with ``ATTENDANCE_SEED`` and the user id),
    a fixed number of draws per lecture, so a cadre's row for a lecture does not depend on
    which other cadres or lectures are generated. Rows are inserted with ``ON CONFLICT DO
    NOTHING`` (PostgreSQL: COPY into a temporary table, then one ``INSERT … SELECT``; other
    databases: ``bulk_create(ignore_conflicts=True)``), so a re-run adds nothing and rows
    written by real heartbeats are kept. New rows carry the summaries snapshot (``tally*``)
    the rebuild would give them; the caller must run ``summaries_rebuild`` in the same
    transaction (``demo_seed`` does), which then has counts to write but no row to rewrite.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from django.db import connection

from courses.attendance.credit import CompletionRule
from courses.models import Attendance, Enrolment, Programme
from courses.summaries.sync import attendance_bits
from portal.bulk import copy_rows
from portal.models import OrgUnit, User

ATTENDANCE_SEED = 5_2025
Which = Literal["ended", "all"]
WINDOW = 30  # seconds per heartbeat window

# Level of a cadre's unit → (attends a lecture, watches live to the end when online,
# replay-only share of online viewers when replays count). Institutions are the
# organisation departments, party schools and bureaus.
LEVELS: dict[str, tuple[float, float, float]] = {
    "province": (0.95, 0.90, 0.06),
    "city": (0.93, 0.88, 0.08),
    "county": (0.90, 0.85, 0.10),
    "institution": (0.96, 0.90, 0.06),
    "township": (0.85, 0.78, 0.14),
    "village": (0.76, 0.68, 0.18),
}
CITY_FACTOR = (0.94, 1.04)  # every city and every county gets a fixed factor in this range
COUNTY_FACTOR = (0.86, 1.06)
IN_PERSON_SHARE = 0.88  # of venue-assigned cadres who attend
TOP_UP_SHARE = 0.45  # of early leavers who finish with the replay (when replays count)
AUDIENCE_SHARE = 0.05  # of generated, never-enrolled cadres who look in on a lecture
AUDIENCE_FULL = 0.35  # … and of those, who stay to the end
LECTURE_BONUS = {1: 0.02, 4: 0.03}  # the opening lecture and the humanoid-robot one draw more
FATIGUE = 0.012  # fewer attend each later lecture
REPLAY_DAYS = 5  # replays are watched within this many days of the end


@dataclass(frozen=True)
class _Profile:
    """Per unit: probabilities after the level and the city/county factors."""

    attend: float
    full: float
    replay_only: float
    audience: float


@dataclass(frozen=True)
class _Lecture:
    pk: int
    sequence: int
    starts: int  # epoch seconds
    ends: int
    duration: int  # seconds
    threshold: int  # seconds to complete
    credit: Decimal
    elapsed: int | None  # seconds so far when live now, else None (ended or as if ended)
    replay: bool  # replay credit possible
    replay_window: int  # seconds after the end in which replays were watched
    bonus: float


@dataclass
class AttendanceResult:
    lectures: int = 0
    generated: int = 0  # rows generated (before ON CONFLICT)
    created: int = 0  # rows actually inserted


def _lectures(programme: Programme, which: Which, now: datetime) -> list[_Lecture]:
    chosen: list[_Lecture] = []
    epoch_now = int(now.timestamp())
    for lecture in programme.lectures.order_by("sequence"):
        starts, ends = int(lecture.starts_at.timestamp()), int(lecture.ends_at.timestamp())
        live_now = starts <= epoch_now < ends
        if which == "ended" and starts > epoch_now:
            continue
        elapsed = epoch_now - starts if which == "ended" and live_now else None
        chosen.append(
            _Lecture(
                pk=lecture.pk,
                sequence=lecture.sequence,
                starts=starts,
                ends=ends,
                duration=lecture.duration_minutes * 60,
                threshold=lecture.completion_seconds,
                credit=lecture.credit_hours,
                elapsed=elapsed,
                replay=programme.replays_count and elapsed is None,
                replay_window=_replay_window(epoch_now - ends),
                bonus=LECTURE_BONUS.get(lecture.sequence, 0.0) - FATIGUE * (lecture.sequence - 1),
            )
        )
    return chosen


def _replay_window(since_end: int) -> int:
    """Seconds after a lecture's end within which its replays were watched: up to now, at
    most five days (five days for a lecture that has not ended: ``all``)."""
    return min(since_end, REPLAY_DAYS * 86400) if since_end > 0 else REPLAY_DAYS * 86400


def _factor(key: str, bounds: tuple[float, float]) -> float:
    return random.Random(f"{ATTENDANCE_SEED}:{key}").uniform(*bounds)  # noqa: S311


def _profiles() -> dict[int, _Profile]:
    """A profile per unit: its level, times the factors of its city and county."""
    units = list(OrgUnit.objects.values_list("pk", "path", "kind", "code"))
    by_path = {path: (kind, code) for _pk, path, kind, code in units}
    step = OrgUnit.steplen
    territorial = set(OrgUnit.TERRITORIAL)
    profiles: dict[int, _Profile] = {}
    for pk, path, kind, _code in units:
        level = kind if kind in territorial else "institution"
        attend, full, replay_only = LEVELS[level]
        factor = 1.0
        for depth in range(step, len(path) + 1, step):
            ancestor_kind, ancestor_code = by_path.get(path[:depth], ("", None))
            bounds = {"city": CITY_FACTOR, "county": COUNTY_FACTOR}.get(ancestor_kind)
            if bounds is not None:
                factor *= _factor(ancestor_code or path[:depth], bounds)
        profiles[pk] = _Profile(
            attend=min(attend * factor, 0.99),
            full=min(full * (0.5 + factor / 2), 0.98),
            replay_only=replay_only,
            audience=AUDIENCE_SHARE * factor,
        )
    return profiles


# One generated row: user, lecture, the user's unit, live s, replay s, first seen, last seen
# (epochs or None), venue id, checked-in epoch, completed, credit hours earned.
Row = tuple[int, int, int, int, int, int | None, int | None, int | None, int | None, bool, Decimal]


def _windows(seconds: float) -> int:
    """Whole heartbeat windows, at least one."""
    return max(WINDOW, int(seconds) // WINDOW * WINDOW)


def _replay_start(lec: _Lecture, replay: int, u: float) -> int:
    """When a replay of ``replay`` seconds started: it ended within the replay window."""
    return lec.ends + 600 + int(u * max(0, lec.replay_window - 600 - replay))


def _row(
    user_id: int,
    unit_id: int,
    lec: _Lecture,
    profile: _Profile,
    enrolled: bool,
    venue_id: int | None,
    u: list[float],
) -> Row | None:
    """One cadre's attendance of one lecture from six uniform draws ``u``, or None."""
    u_attend, u_mode, u_full, u_seconds, u_replay, u_time = u
    if enrolled:
        if u_attend >= profile.attend + lec.bonus:
            return None
        full = u_full < profile.full
    else:
        if u_attend >= profile.audience:
            return None
        full = u_full < AUDIENCE_FULL
    live = replay = 0
    first: int | None = None
    last: int | None = None
    checked_in: int | None = None
    venue: int | None = None
    if enrolled and venue_id is not None and u_mode < IN_PERSON_SHARE:
        venue, checked_in = venue_id, lec.starts - int(300 + u_time * 1200)  # 5–25 min early
    elif lec.elapsed is not None:  # live now: joined at some point, watching or gone
        if lec.elapsed < WINDOW:
            return None  # no heartbeat window has passed yet
        joined = int(u_time * u_time * (lec.elapsed - WINDOW))
        live = _windows((lec.elapsed - joined) * (1.0 if full else u_seconds))
        first = lec.starts + joined
        last = first + live
    elif lec.replay and enrolled and u_mode > 1 - profile.replay_only:  # replay only
        replay = _windows(
            lec.threshold + u_seconds * (lec.duration - lec.threshold)
            if full
            else 120 + u_seconds * (lec.threshold - 120)
        )
        first = _replay_start(lec, replay, u_time)
        last = first + replay
    else:  # live, then perhaps the replay
        if full:
            live = _windows(lec.threshold + u_seconds * (lec.duration - lec.threshold))
        else:
            live = _windows(60 + u_seconds * (lec.threshold - 60))
        first = lec.starts + int((lec.duration - live) * u_time * 0.3)
        last = first + live
        if not full and enrolled and lec.replay and u_replay < TOP_UP_SHARE:
            replay = _windows(lec.threshold - live + WINDOW + u_replay * 600)
            last = _replay_start(lec, replay, u_time) + replay
    completed = CompletionRule(lec.threshold, Decimal(0)).completes(
        seconds=live + replay, checked_in=checked_in is not None
    )
    credit = lec.credit if completed else Decimal("0")
    return (
        user_id,
        lec.pk,
        unit_id,
        live,
        replay,
        first,
        last,
        venue,
        checked_in,
        completed,
        credit,
    )


# The demo cadre's record is written by hand (demo/live.py: every ended lecture completed).
SCRIPTED = frozenset({"cadre"})


def _cadres(programme: Programme) -> list[tuple[int, int, bool, int | None]]:
    """(user id, unit id, enrolled, venue id) for enrolled users with a unit and for the
    generated cadres, by user id."""
    from demo.seed import CADRE_USERNAME_PREFIX  # (seed imports this module)

    generated = re.compile(rf"^{CADRE_USERNAME_PREFIX}\d{{6}}$")
    enrolments = dict(
        Enrolment.objects.filter(programme=programme, status=Enrolment.Status.ACTIVE).values_list(
            "user_id", "venue_id"
        )
    )
    users = (
        User.objects.filter(unit__isnull=False, is_active=True)
        .values_list("pk", "unit_id", "username")
        .order_by("pk")
    )
    return [
        (pk, unit_id, pk in enrolments, enrolments.get(pk))
        for pk, unit_id, username in users
        if (pk in enrolments or generated.match(username)) and username not in SCRIPTED
    ]


def attendance_rows(*, programme: Programme, which: Which, now: datetime) -> Iterator[Row]:
    """The generated rows, by user then lecture (deterministic; nothing is written).

    Every query runs before this returns: the rows can feed a COPY on the same connection.
    """
    lectures = _lectures(programme, which, now)
    everything = list(programme.lectures.order_by("sequence").values_list("sequence", flat=True))
    return _generate(lectures, everything, _profiles(), _cadres(programme))


def _generate(
    lectures: list[_Lecture],
    sequences: list[int],
    profiles: dict[int, _Profile],
    cadres: list[tuple[int, int, bool, int | None]],
) -> Iterator[Row]:
    by_sequence = {lec.sequence: lec for lec in lectures}
    for user_id, unit_id, enrolled, venue_id in cadres:
        rng = random.Random(ATTENDANCE_SEED * 10_000_019 + user_id)  # noqa: S311
        draw = rng.random
        profile = profiles[unit_id]
        for sequence in sequences:  # six draws per lecture, generated or not
            u = [draw(), draw(), draw(), draw(), draw(), draw()]
            lec = by_sequence.get(sequence)
            if lec is None:
                continue
            row = _row(user_id, unit_id, lec, profile, enrolled, venue_id, u)
            if row is not None:
                yield row


def demo_attendance_seed(*, programme: Programme, which: Which, now: datetime) -> AttendanceResult:
    """Insert the generated attendance of ``programme`` (rows already there are kept).
    The report summaries are *not* updated: call ``summaries_rebuild`` afterwards."""
    result = AttendanceResult(lectures=len(_lectures(programme, which, now)))
    rows = attendance_rows(programme=programme, which=which, now=now)
    if connection.vendor == "postgresql":
        result.generated, result.created = _insert_copy(rows, now)
    else:
        result.generated, result.created = _insert_bulk(rows, now)
    return result


_STAGE = "demo_attendance_stage"


def _tally(live: int, replay: int, checked: int | None, done: bool) -> int:
    """The snapshot the rebuild would store (``courses.summaries.sync``): writing it here means
    the ``summaries_rebuild`` that follows the seed rewrites none of these rows."""
    return attendance_bits(live=live, replay=replay, checked_in=checked is not None, completed=done)


_STAGE_COLUMNS = (
    "user_id",
    "lecture_id",
    "live",
    "replay",
    "first_epoch",
    "last_epoch",
    "venue_id",
    "checked_epoch",
    "completed",
    "credit",
    "unit_id",
    "tally",
    "seconds",
)


def _insert_copy(rows: Iterator[Row], now: datetime) -> tuple[int, int]:
    count = 0

    def staged() -> Iterator[tuple[object, ...]]:
        nonlocal count
        for user, lecture, unit, live, replay, first, last, venue, checked, done, credit in rows:
            count += 1
            tally = _tally(live, replay, checked, done)
            seconds = live + replay
            yield (
                user,
                lecture,
                live,
                replay,
                first,
                last,
                venue,
                checked,
                done,
                credit,
                unit,
                tally,
                seconds,
            )

    table = Attendance._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {_STAGE} (user_id bigint, lecture_id bigint, live integer, "
            "replay integer, first_epoch bigint, last_epoch bigint, venue_id bigint, "
            "checked_epoch bigint, completed boolean, credit numeric(4, 1), unit_id integer, "
            "tally smallint, seconds integer) ON COMMIT DROP"
        )
        copy_rows(table=_STAGE, columns=_STAGE_COLUMNS, rows=staged(), cursor=cursor)
        # Only constant identifiers are formatted in; the one value is a parameter.
        cursor.execute(
            f"INSERT INTO {table} (user_id, lecture_id, live_seconds, "  # noqa: S608
            "replay_seconds, first_seen_at, last_seen_at, venue_id, checked_in_at, "
            "completed, credit_hours_earned, last_flush_id, updated_at, tally_unit_id, tally, "
            "tally_seconds) "
            "SELECT user_id, lecture_id, live, replay, to_timestamp(first_epoch), "
            "to_timestamp(last_epoch), venue_id, to_timestamp(checked_epoch), completed, "
            f"credit, '', %s, unit_id, tally, seconds FROM {_STAGE} "
            "ON CONFLICT (user_id, lecture_id) DO NOTHING",
            [now],
        )
        created = max(cursor.rowcount, 0)
        cursor.execute(f"DROP TABLE {_STAGE}")  # also when nested in an outer atomic
    return count, created


def _epoch(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _insert_bulk(rows: Iterator[Row], now: datetime) -> tuple[int, int]:
    before = Attendance.objects.count()
    count = 0
    batch: list[Attendance] = []
    size = 2000 if connection.vendor == "sqlite" else 5000

    def flush() -> None:
        Attendance.objects.bulk_create(batch, ignore_conflicts=True)
        batch.clear()

    for user, lecture, unit, live, replay, first, last, venue, checked, done, credit in rows:
        count += 1
        batch.append(
            Attendance(
                user_id=user,
                lecture_id=lecture,
                live_seconds=live,
                replay_seconds=replay,
                first_seen_at=_epoch(first),
                last_seen_at=_epoch(last),
                venue_id=venue,
                checked_in_at=_epoch(checked),
                completed=done,
                credit_hours_earned=credit,
                updated_at=now,
                tally_unit_id=unit,
                tally=_tally(live, replay, checked, done),
                tally_seconds=live + replay,
            )
        )
        if len(batch) >= size:
            flush()
    flush()
    return count, Attendance.objects.count() - before
