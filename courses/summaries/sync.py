"""Report summaries: attendance per (lecture, unit) and enrolment per (programme, unit),
each counting the unit's **whole subtree** (docs/reports.md).

Reports read these tables, O(units) rows, never the ~3M raw attendance rows.

How they stay right
    Every ``Attendance`` and ``Enrolment`` row remembers what was last counted for it
    (``tally_unit_id`` and, for attendance, the state bits and seconds). A sync re-reads some
    rows under a row lock, and for each row whose current (unit, state) differs from what was
    counted, subtracts the old contribution from the old unit's ancestors and adds the new one
    to the new unit's ancestors, in the same transaction as the snapshot update. So a change
    is counted exactly once whoever makes it (the buffer flush, a check-in, an organiser's
    correction, an enrolment, a cadre moved to another unit) and however often a sync runs.

    Whoever writes those rows calls the matching sync in the same transaction:
    ``attendance_summaries_sync`` / ``enrolment_summaries_sync``. ``summaries_rebuild`` is the
    repair (and the oracle of the property test): it recomputes everything from raw rows.
    Moving a unit to another parent (``OrgUnit.move``) sends ``portal.models.unit_moved``;
    ``summaries_unit_moved`` then moves the unit's counts from its old ancestors to the new.

Headcounts (cadres per subtree) change rarely; they are one ``GROUP BY unit`` over users,
rolled up in Python and memoised per process for ``REPORT_HEADCOUNT_SECONDS``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import BooleanField, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from courses.models import (
    Attendance,
    AttendanceOverride,
    Enrolment,
    LectureUnitSummary,
    ProgrammeUnitSummary,
)
from portal.models import OrgUnit, User

# State bits of one attendance row (``Attendance.tally``).
ATTENDED, IN_PERSON, LIVE, REPLAY, COMPLETED = 1, 2, 4, 8, 16

ATTENDANCE_FIELDS = ("attended", "in_person", "online_live", "replay", "completed", "seconds")
_ID_CHUNK = 2000  # ids per IN (...) list; well under SQLite's parameter limit

Vector = tuple[int, ...]


def attendance_bits(*, live: int, replay: int, checked_in: bool, completed: bool) -> int:
    """The state bits counted for one row (``completed`` already has corrections applied)."""
    bits = 0
    if live > 0 or replay > 0 or checked_in:
        bits |= ATTENDED
    if checked_in:
        bits |= IN_PERSON
    if live > 0:
        bits |= LIVE
    if replay > 0:
        bits |= REPLAY
    if completed:
        bits |= COMPLETED
    return bits


def _attendance_vector(bits: int, seconds: int) -> Vector:
    if not bits & ATTENDED:
        return (0, 0, 0, 0, 0, 0)
    return (
        1,
        int(bool(bits & IN_PERSON)),
        int(bool(bits & LIVE)),
        int(bool(bits & REPLAY)),
        int(bool(bits & COMPLETED)),
        seconds,
    )


def _latest_override() -> Subquery:
    return Subquery(
        AttendanceOverride.objects.filter(attendance=OuterRef("pk"))
        .order_by("-at", "-pk")
        .values("completed")[:1],
        output_field=BooleanField(),
    )


def completed_effective() -> Coalesce:
    """An ``Attendance`` row's completion with corrections applied (the newest one wins)."""
    return Coalesce(_latest_override(), F("completed"), output_field=BooleanField())


def attended_q() -> Q:
    """``Attendance`` rows that count as attended (any mode)."""
    return Q(live_seconds__gt=0) | Q(replay_seconds__gt=0) | Q(checked_in_at__isnull=False)


def _chunks(ids: Sequence[int], size: int = _ID_CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# ---------------------------------------------------------------------------------------
# Ancestors
# ---------------------------------------------------------------------------------------


def _ancestor_ids(unit_ids: Iterable[int]) -> dict[int, list[int]]:
    """For each unit id: the ids of the unit and all its ancestors (root first)."""
    wanted = {u for u in unit_ids if u is not None}
    if not wanted:
        return {}
    paths = dict(OrgUnit.objects.filter(pk__in=wanted).values_list("pk", "path"))
    step = OrgUnit.steplen
    prefixes = {p[:i] for p in paths.values() for i in range(step, len(p) + 1, step)}
    ids: dict[str, int] = {}
    prefix_list = sorted(prefixes)
    for start in range(0, len(prefix_list), _ID_CHUNK):
        ids.update(
            OrgUnit.objects.filter(path__in=prefix_list[start : start + _ID_CHUNK]).values_list(
                "path", "pk"
            )
        )
    return {
        uid: [ids[p[:i]] for i in range(step, len(p) + 1, step) if p[:i] in ids]
        for uid, p in paths.items()
    }


# ---------------------------------------------------------------------------------------
# Applying deltas
# ---------------------------------------------------------------------------------------


@dataclass
class _Change:
    pk: int
    old_unit: int | None
    old: Vector
    new_unit: int | None
    new: Vector
    snapshot: tuple[Any, ...]  # the new tally column values, in ``_Spec.tally_columns`` order


@dataclass(frozen=True)
class _Spec:
    source: type[Attendance] | type[Enrolment]
    summary: type[LectureUnitSummary] | type[ProgrammeUnitSummary]
    key_column: str  # "lecture_id" / "programme_id"
    fields: tuple[str, ...]
    tally_columns: tuple[str, ...]


_ATTENDANCE = _Spec(
    Attendance,
    LectureUnitSummary,
    "lecture_id",
    ATTENDANCE_FIELDS,
    ("tally_unit_id", "tally", "tally_seconds"),
)
_ENROLMENT = _Spec(
    Enrolment, ProgrammeUnitSummary, "programme_id", ("enrolled",), ("tally_unit_id",)
)


def _apply(spec: _Spec, key_id: int, changes: list[_Change]) -> None:
    """Add the changes' deltas to the summaries and store the new snapshots."""
    if not changes:
        return
    ancestors = _ancestor_ids(
        [c.old_unit for c in changes if c.old_unit is not None]
        + [c.new_unit for c in changes if c.new_unit is not None]
    )
    width = len(spec.fields)
    deltas: dict[int, list[int]] = defaultdict(lambda: [0] * width)
    for change in changes:
        for unit, vector, sign in (
            (change.old_unit, change.old, -1),
            (change.new_unit, change.new, 1),
        ):
            if unit is None or not any(vector):
                continue
            for ancestor in ancestors.get(unit, ()):
                row = deltas[ancestor]
                for i, value in enumerate(vector):
                    row[i] += sign * value
    _summary_add(spec, key_id, {u: d for u, d in deltas.items() if any(d)})
    _snapshots_write(spec, changes)


def _summary_add(spec: _Spec, key_id: int, deltas: dict[int, list[int]]) -> None:
    if not deltas:
        return
    table = spec.summary._meta.db_table
    columns = ", ".join(spec.fields)
    updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in spec.fields)
    row_sql = "(" + ", ".join(["%s"] * (len(spec.fields) + 2)) + ")"
    items = sorted(deltas.items())  # a fixed lock order: concurrent syncs cannot deadlock
    with connection.cursor() as cursor:
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            params: list[Any] = []
            for unit_id, delta in chunk:
                params += [key_id, unit_id, *delta]
            # Only constant identifiers are formatted in; every value is a parameter.
            cursor.execute(
                f"INSERT INTO {table} ({spec.key_column}, unit_id, {columns}) "  # noqa: S608
                f"VALUES {', '.join([row_sql] * len(chunk))} "
                f"ON CONFLICT ({spec.key_column}, unit_id) DO UPDATE SET {updates}",
                params,
            )


def _snapshots_write(spec: _Spec, changes: list[_Change]) -> None:
    table = spec.source._meta.db_table
    names = ("id", *spec.tally_columns)
    types = ("bigint", *(["integer"] * len(spec.tally_columns)))
    sets = ", ".join(f"{c} = CAST(v.{c} AS integer)" for c in spec.tally_columns)
    row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(changes), 1000):
            chunk = changes[start : start + 1000]
            params: list[Any] = []
            for change in chunk:
                params += [change.pk, *change.snapshot]
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM (VALUES "  # noqa: S608
                f"{', '.join([row_sql] * len(chunk))}) AS v({', '.join(names)}) "
                f"WHERE {table}.id = CAST(v.id AS {types[0]})",
                params,
            )


# ---------------------------------------------------------------------------------------
# Syncs (write side)
# ---------------------------------------------------------------------------------------


def attendance_summaries_sync(*, lecture_id: int, user_ids: Iterable[int] | None = None) -> int:
    """Count the current state of the lecture's attendance rows (of ``user_ids``, or all)
    into the summaries; returns how many rows changed. Call it in the transaction that
    wrote the rows; running it again changes nothing."""
    base = Attendance.objects.filter(lecture_id=lecture_id)
    if user_ids is None:
        return _attendance_sync(lecture_id, base)
    ids = sorted(set(user_ids))
    return sum(
        _attendance_sync(lecture_id, base.filter(user_id__in=chunk)) for chunk in _chunks(ids)
    )


def _attendance_sync(lecture_id: int, rows: QuerySet[Attendance]) -> int:
    changes: list[_Change] = []
    with transaction.atomic():
        values = (
            rows.select_for_update(of=("self",))
            .annotate(override=_latest_override())
            .order_by("pk")
            .values_list(
                "pk",
                "user__unit_id",
                "live_seconds",
                "replay_seconds",
                "checked_in_at",
                "completed",
                "override",
                "tally_unit_id",
                "tally",
                "tally_seconds",
            )
        )
        for pk, unit, live, replay, checked_in, done, override, t_unit, t_bits, t_secs in values:
            completed = done if override is None else override
            bits = attendance_bits(
                live=live, replay=replay, checked_in=checked_in is not None, completed=completed
            )
            seconds = int(live) + int(replay)
            if (unit, bits, seconds) == (t_unit, t_bits, t_secs):
                continue
            changes.append(
                _Change(
                    pk=pk,
                    old_unit=t_unit,
                    old=_attendance_vector(t_bits, t_secs),
                    new_unit=unit,
                    new=_attendance_vector(bits, seconds),
                    snapshot=(unit, bits, seconds),
                )
            )
        _apply(_ATTENDANCE, lecture_id, changes)
    return len(changes)


def attendance_summaries_sync_staged(*, lecture_id: int, stage_table: str) -> int:
    """``attendance_summaries_sync`` for the users listed in ``stage_table`` (a temporary
    table with a ``user_id`` column), set-based in PostgreSQL: the buffer flush's batches
    are tens of thousands of rows. The caller has just upserted (so locked) those rows in
    the current transaction. Returns how many rows changed."""
    att, usr = Attendance._meta.db_table, User._meta.db_table
    units, overrides = OrgUnit._meta.db_table, AttendanceOverride._meta.db_table
    summary, changes = LectureUnitSummary._meta.db_table, "summary_changes"
    step = OrgUnit.steplen
    sums = ", ".join(
        f"SUM(d.sign * (d.bits & {bit} > 0)::int) AS {name}"
        for bit, name in (
            (IN_PERSON, "in_person"),
            (LIVE, "online_live"),
            (REPLAY, "replay"),
            (COMPLETED, "completed"),
        )
    )
    fields = ", ".join(ATTENDANCE_FIELDS)
    adds = ", ".join(f"{c} = {summary}.{c} + EXCLUDED.{c}" for c in ATTENDANCE_FIELDS)
    nonzero = " OR ".join(f"g.{c} <> 0" for c in ATTENDANCE_FIELDS)
    # Corrections are rare: look them up per row only if this lecture has any.
    completed = "a.completed"
    if AttendanceOverride.objects.filter(attendance__lecture_id=lecture_id).exists():
        completed = (
            f"COALESCE((SELECT o.completed FROM {overrides} o WHERE o.attendance_id = a.id "  # noqa: S608
            "ORDER BY o.at DESC, o.id DESC LIMIT 1), a.completed)"
        )
    # Only constant identifiers are formatted into the SQL; values are parameters.
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {changes} ON COMMIT DROP AS "  # noqa: S608
            "SELECT c.* FROM (SELECT a.id, a.tally_unit_id AS old_unit, a.tally AS old_bits, "
            "a.tally_seconds AS old_secs, "
            # A counted row's unit is current (unit moves sync at once, courses/signals.py),
            # so only rows never counted look their cadre's unit up.
            f"COALESCE(a.tally_unit_id, (SELECT u.unit_id FROM {usr} u WHERE u.id = a.user_id)) "
            "AS new_unit, "
            "a.live_seconds + a.replay_seconds AS new_secs, "
            f"(CASE WHEN a.live_seconds > 0 OR a.replay_seconds > 0 "
            f"OR a.checked_in_at IS NOT NULL THEN {ATTENDED} ELSE 0 END"
            f" + CASE WHEN a.checked_in_at IS NOT NULL THEN {IN_PERSON} ELSE 0 END"
            f" + CASE WHEN a.live_seconds > 0 THEN {LIVE} ELSE 0 END"
            f" + CASE WHEN a.replay_seconds > 0 THEN {REPLAY} ELSE 0 END"
            f" + CASE WHEN {completed} THEN {COMPLETED} ELSE 0 END) AS new_bits "
            f"FROM {att} a JOIN {stage_table} st ON st.user_id = a.user_id "
            "WHERE a.lecture_id = %s OFFSET 0) c "  # (OFFSET 0: compute each row once)
            "WHERE c.old_unit IS DISTINCT FROM c.new_unit OR c.old_bits <> c.new_bits "
            "OR c.old_secs <> c.new_secs",
            [lecture_id],
        )
        changed = max(cursor.rowcount, 0)
        if changed:
            # Each changed row: minus what was counted at the old unit and its ancestors,
            # plus its state now at the new unit and its ancestors.
            cursor.execute(
                f"INSERT INTO {summary} (lecture_id, unit_id, {fields}) "  # noqa: S608
                f"SELECT %s, g.* FROM (SELECT anc.id, SUM(d.sign) AS attended, {sums}, "
                "SUM(d.sign * d.secs) AS seconds FROM ("
                f"SELECT old_unit AS unit, old_bits AS bits, old_secs AS secs, -1 AS sign "
                f"FROM {changes} WHERE old_unit IS NOT NULL AND old_bits & {ATTENDED} > 0 "
                f"UNION ALL SELECT new_unit, new_bits, new_secs, 1 FROM {changes} "
                f"WHERE new_unit IS NOT NULL AND new_bits & {ATTENDED} > 0) d "
                f"JOIN {units} un ON un.id = d.unit "
                f"CROSS JOIN LATERAL generate_series({step}, length(un.path), {step}) k "
                f"JOIN {units} anc ON anc.path = substr(un.path, 1, k) "
                f"GROUP BY anc.id) g WHERE {nonzero} ORDER BY g.id "
                f"ON CONFLICT (lecture_id, unit_id) DO UPDATE SET {adds}",
                [lecture_id],
            )
            cursor.execute(
                f"UPDATE {att} a SET tally_unit_id = c.new_unit, tally = c.new_bits, "  # noqa: S608
                f"tally_seconds = c.new_secs FROM {changes} c WHERE a.id = c.id"
            )
        cursor.execute(f"DROP TABLE {changes}")
    return changed


def enrolment_summaries_sync(*, programme_id: int, user_ids: Iterable[int] | None = None) -> int:
    """Count the current state of the programme's enrolments into the summaries."""
    base = Enrolment.objects.filter(programme_id=programme_id)
    if user_ids is None:
        return _enrolment_sync(programme_id, base)
    ids = sorted(set(user_ids))
    return sum(
        _enrolment_sync(programme_id, base.filter(user_id__in=chunk)) for chunk in _chunks(ids)
    )


def _enrolment_sync(programme_id: int, rows: QuerySet[Enrolment]) -> int:
    changes: list[_Change] = []
    with transaction.atomic():
        values = (
            rows.select_for_update(of=("self",))
            .order_by("pk")
            .values_list("pk", "user__unit_id", "status", "tally_unit_id")
        )
        for pk, unit, status, t_unit in values:
            counted_unit = unit if status == Enrolment.Status.ACTIVE else None
            if counted_unit == t_unit:
                continue
            changes.append(
                _Change(
                    pk=pk,
                    old_unit=t_unit,
                    old=(1,),
                    new_unit=counted_unit,
                    new=(1,),
                    snapshot=(counted_unit,),
                )
            )
        _apply(_ENROLMENT, programme_id, changes)
    return len(changes)


def summaries_sync_user(*, user_id: int) -> None:
    """After a cadre moved to another unit: move their counts along."""
    summaries_sync_users(user_ids=[user_id])


def summaries_sync_users(*, user_ids: Sequence[int]) -> None:
    """After cadres moved to other units (a directory import): move their counts along,
    one pass per lecture and programme they have rows in."""
    if not user_ids:
        return
    by_lecture: dict[int, list[int]] = {}
    by_programme: dict[int, list[int]] = {}
    with transaction.atomic():
        for chunk in _chunks(user_ids):
            for lecture_id, uid in Attendance.objects.filter(user_id__in=chunk).values_list(
                "lecture_id", "user_id"
            ):
                by_lecture.setdefault(lecture_id, []).append(uid)
            for programme_id, uid in Enrolment.objects.filter(user_id__in=chunk).values_list(
                "programme_id", "user_id"
            ):
                by_programme.setdefault(programme_id, []).append(uid)
        for lecture_id in sorted(by_lecture):
            attendance_summaries_sync(lecture_id=lecture_id, user_ids=by_lecture[lecture_id])
        for programme_id in sorted(by_programme):
            enrolment_summaries_sync(programme_id=programme_id, user_ids=by_programme[programme_id])
    headcounts_changed()


def summaries_forget_user(*, user_id: int) -> None:
    """Before a cadre is deleted: take their counted rows out of the summaries."""
    with transaction.atomic():
        _forget(_ATTENDANCE, Attendance.objects.filter(user_id=user_id))
        _forget(_ENROLMENT, Enrolment.objects.filter(user_id=user_id))
    headcounts_changed()


def enrolment_summaries_forget(*, enrolments: QuerySet[Enrolment]) -> None:
    """Before enrolment rows are deleted: take them out of the summaries."""
    _forget(_ENROLMENT, enrolments)


def _forget(spec: _Spec, rows: QuerySet[Any]) -> None:
    key = spec.key_column
    by_key: dict[int, list[_Change]] = defaultdict(list)
    counted = rows.filter(tally_unit_id__isnull=False).select_for_update().order_by(key, "pk")
    for pk, key_id, *tally in counted.values_list("pk", key, *spec.tally_columns):
        old = _attendance_vector(tally[1], tally[2]) if spec is _ATTENDANCE else (1,)
        none = (None,) + (0,) * (len(tally) - 1)
        by_key[key_id].append(
            _Change(pk=pk, old_unit=tally[0], old=old, new_unit=None, new=old, snapshot=none)
        )
    for key_id, changes in sorted(by_key.items()):
        _apply(spec, key_id, changes)


def summaries_unit_moved(*, unit_id: int, old_ancestor_ids: Sequence[int]) -> None:
    """A unit moved (with its subtree) under another parent: its own summary rows already
    count its whole subtree, so move those counts from the old ancestors to the new."""
    new_ancestors = [a for a in _ancestor_ids([unit_id]).get(unit_id, []) if a != unit_id]
    old_set, new_set = set(old_ancestor_ids), set(new_ancestors)
    leaving, joining = sorted(old_set - new_set), sorted(new_set - old_set)
    if not leaving and not joining:
        return
    with transaction.atomic():
        for spec, rows in (
            (
                _ATTENDANCE,
                LectureUnitSummary.objects.filter(unit_id=unit_id).values_list(
                    "lecture_id", *ATTENDANCE_FIELDS
                ),
            ),
            (
                _ENROLMENT,
                ProgrammeUnitSummary.objects.filter(unit_id=unit_id).values_list(
                    "programme_id", "enrolled"
                ),
            ),
        ):
            for key_id, *vector in rows.order_by(spec.key_column):
                deltas = {a: [-v for v in vector] for a in leaving}
                deltas.update({a: list(vector) for a in joining})
                _summary_add(spec, key_id, {a: d for a, d in deltas.items() if any(d)})
    headcounts_changed()


# ---------------------------------------------------------------------------------------


_HEADCOUNT_VERSION_KEY = "courses:headcount-version"


def headcounts_changed() -> None:
    """Cadres were added, removed or moved: every process recomputes its headcounts."""
    cache.set(_HEADCOUNT_VERSION_KEY, f"{time.time_ns()}", None)
