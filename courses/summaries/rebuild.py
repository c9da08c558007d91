"""Rebuild the summaries from the raw rows: the repair, and the oracle the incremental
path of ``courses.summaries.sync`` is tested against."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from courses.models import (
    Attendance,
    Enrolment,
    Lecture,
    LectureUnitSummary,
    Programme,
    ProgrammeUnitSummary,
)
from courses.summaries.sync import (
    ATTENDANCE_FIELDS,
    ATTENDED,
    COMPLETED,
    IN_PERSON,
    LIVE,
    REPLAY,
    Vector,
    _ancestor_ids,
    _attendance_vector,
    _chunks,
    attended_q,
    completed_effective,
)
from portal.bulk import copy_rows, copy_supported
from portal.models import User

# Rebuild (the repair, and the oracle the incremental path is tested against)
# ---------------------------------------------------------------------------------------


def _attendance_state_rows(lecture_ids: Sequence[int]) -> QuerySet[Attendance]:
    """Attendance rows annotated with ``unit_`` (the cadre's unit), ``bits_`` (the state bits,
    corrections applied) and ``seconds_``, all computed by the database."""
    checked = Q(checked_in_at__isnull=False)

    def flag(condition: Q, bit: int) -> Case:
        return Case(When(condition, then=Value(bit)), default=Value(0), output_field=IntegerField())

    return (
        Attendance.objects.filter(lecture_id__in=list(lecture_ids))
        .annotate(done_=completed_effective())
        .annotate(
            unit_=F("user__unit_id"),
            seconds_=F("live_seconds") + F("replay_seconds"),
            bits_=flag(attended_q(), ATTENDED)
            + flag(checked, IN_PERSON)
            + flag(Q(live_seconds__gt=0), LIVE)
            + flag(Q(replay_seconds__gt=0), REPLAY)
            + flag(Q(done_=True), COMPLETED),
        )
    )


def summaries_compute(
    *, lecture_ids: Sequence[int] = (), programme_ids: Sequence[int] = ()
) -> tuple[dict[tuple[int, int], Vector], dict[tuple[int, int], Vector]]:
    """What the summaries should hold, computed from raw rows: ({(lecture, unit): vector},
    {(programme, unit): (enrolled,)}), non-zero entries only."""
    per_unit: dict[tuple[int, int], list[int]] = {}
    rows: Any = _attendance_state_rows(lecture_ids)  # (the stubs cannot see annotations)
    grouped = (
        rows.filter(user__unit__isnull=False)
        .values("lecture_id", "unit_", "bits_")
        .annotate(n=Count("pk"), s=Sum("seconds_"))
        .values_list("lecture_id", "unit_", "bits_", "n", "s")
        .order_by()
    )
    for lecture_id, unit_id, bits, n, secs in grouped:
        one = _attendance_vector(bits, int(secs or 0))
        row = per_unit.setdefault((lecture_id, unit_id), [0] * len(ATTENDANCE_FIELDS))
        for i, value in enumerate(one[:-1]):
            row[i] += value * n
        row[-1] += one[-1]
    enrolled: dict[tuple[int, int], list[int]] = {}
    for programme_id, unit_id, n in (
        Enrolment.objects.filter(
            programme_id__in=list(programme_ids),
            status=Enrolment.Status.ACTIVE,
            user__unit__isnull=False,
        )
        .values("programme_id", "user__unit_id")
        .annotate(n=Count("pk"))
        .values_list("programme_id", "user__unit_id", "n")
        .order_by()
    ):
        enrolled[(programme_id, unit_id)] = [n]
    return _rollup(per_unit), _rollup(enrolled)


def _rollup(per_unit: dict[tuple[int, int], list[int]]) -> dict[tuple[int, int], Vector]:
    """Add each unit's own counts to itself and every ancestor."""
    ancestors = _ancestor_ids({unit for _key, unit in per_unit})
    out: dict[tuple[int, int], list[int]] = {}
    for (key, unit), vector in per_unit.items():
        for ancestor in ancestors.get(unit, ()):
            row = out.setdefault((key, ancestor), [0] * len(vector))
            for i, value in enumerate(vector):
                row[i] += value
    return {k: tuple(v) for k, v in out.items() if any(v)}


def summaries_stored(
    *, lecture_ids: Sequence[int] = (), programme_ids: Sequence[int] = ()
) -> tuple[dict[tuple[int, int], Vector], dict[tuple[int, int], Vector]]:
    """What the summary tables hold now (non-zero rows), in ``summaries_compute``'s shape."""
    lectures = {
        (row[0], row[1]): tuple(row[2:])
        for row in LectureUnitSummary.objects.filter(lecture_id__in=list(lecture_ids)).values_list(
            "lecture_id", "unit_id", *ATTENDANCE_FIELDS
        )
    }
    programmes = {
        (p, u): (n,)
        for p, u, n in ProgrammeUnitSummary.objects.filter(
            programme_id__in=list(programme_ids)
        ).values_list("programme_id", "unit_id", "enrolled")
    }
    return (
        {k: v for k, v in lectures.items() if any(v)},
        {k: v for k, v in programmes.items() if any(v)},
    )


def _unit_of_user() -> Subquery:
    return Subquery(User.objects.filter(pk=OuterRef("user_id")).values("unit_id")[:1])


def _summary_rows_insert(
    model: type[LectureUnitSummary] | type[ProgrammeUnitSummary],
    columns: tuple[str, ...],
    rows: Iterable[tuple[int, ...]],
) -> None:
    """Insert summary rows (integers only): COPY on PostgreSQL (~10x ``bulk_create``)."""
    if copy_supported():
        copy_rows(table=model, columns=columns, rows=rows)
        return
    objects: Any = model.objects  # (either summary model)
    objects.bulk_create(
        (model(**dict(zip(columns, row, strict=True))) for row in rows), batch_size=5000
    )


def _attendance_tallies_reset(lecture_ids: Sequence[int]) -> None:
    """Set each row's snapshot to its current state. Rows already right are left alone: an
    UPDATE rewrites the row and all its index entries (~60 µs a row), and after a seed or
    a previous rebuild nearly every row is right."""
    rows: Any = _attendance_state_rows(lecture_ids)  # (the stubs cannot see annotations)
    stale = rows.annotate(
        unit_now_=Coalesce(_unit_of_user(), Value(0)),
        unit_was_=Coalesce(F("tally_unit_id"), Value(0)),
    ).filter(~Q(unit_was_=F("unit_now_")) | ~Q(tally=F("bits_")) | ~Q(tally_seconds=F("seconds_")))
    stale.update(tally_unit_id=_unit_of_user(), tally=F("bits_"), tally_seconds=F("seconds_"))


def _enrolment_tallies_reset(programme_ids: Sequence[int]) -> None:
    counted = Case(
        When(status=Enrolment.Status.ACTIVE, then=_unit_of_user()),
        default=None,
        output_field=IntegerField(),
    )
    Enrolment.objects.filter(programme_id__in=programme_ids).annotate(
        now_=Coalesce(counted, Value(0)), was_=Coalesce(F("tally_unit_id"), Value(0))
    ).exclude(now_=F("was_")).update(tally_unit_id=counted)


@dataclass
class RebuildResult:
    lectures: int = 0
    programmes: int = 0
    lecture_rows: int = 0
    programme_rows: int = 0
    seconds: float = 0.0


def summaries_rebuild(*, programme_ids: Sequence[int] | None = None) -> RebuildResult:
    """Recompute the summaries of the given programmes (default: all) from raw rows and
    reset every row's snapshot to match. Blocks attendance and enrolment writes meanwhile."""
    started = time.perf_counter()

    chosen = Programme.objects.all()
    if programme_ids is not None:
        chosen = chosen.filter(pk__in=list(programme_ids))
    programmes = list(chosen.values_list("pk", flat=True).order_by("pk"))
    lectures = list(
        Lecture.objects.filter(programme_id__in=programmes)
        .values_list("pk", flat=True)
        .order_by("pk")
    )
    result = RebuildResult(lectures=len(lectures), programmes=len(programmes))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in (Attendance, Enrolment):
                    cursor.execute(f"LOCK TABLE {model._meta.db_table} IN EXCLUSIVE MODE")
        lecture_rows, programme_rows = summaries_compute(
            lecture_ids=lectures, programme_ids=programmes
        )
        LectureUnitSummary.objects.filter(lecture_id__in=lectures).delete()
        ProgrammeUnitSummary.objects.filter(programme_id__in=programmes).delete()
        _summary_rows_insert(
            LectureUnitSummary,
            ("lecture_id", "unit_id", *ATTENDANCE_FIELDS),
            ((*k, *v) for k, v in lecture_rows.items()),
        )
        _summary_rows_insert(
            ProgrammeUnitSummary,
            ("programme_id", "unit_id", "enrolled"),
            ((*k, *v) for k, v in programme_rows.items()),
        )
        for chunk in _chunks(lectures, 1):
            _attendance_tallies_reset(chunk)
        _enrolment_tallies_reset(programmes)
    result.lecture_rows, result.programme_rows = len(lecture_rows), len(programme_rows)
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------------------
