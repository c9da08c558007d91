"""通报 (supervision ranking, docs/reports.md): the units of one level ranked by attendance or
completion rate over a programme's started lectures, with the rate of every lecture.

Read only from the summaries (``courses/summaries.py``): one ``summary_totals`` call for the
whole programme and one read of ``LectureUnitSummary`` for the per-lecture trend, so the
cost is O(units × lectures) whatever the number of cadres.

Rates (the same as the main report's): attendance rate = attended / enrolled, completion
rate = completed / enrolled, per lecture. Over the programme they are the sums over the
started lectures divided by enrolled × number of started lectures (the mean of the lecture
rates). ``enrolled`` is the unit's active enrolments in the programme now. A unit with no
enrolment has no rate, no rank, and is listed last.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet

from courses.models import Lecture, LectureUnitSummary, Programme
from courses.reports.request import lectures_counted
from courses.summaries.totals import summary_totals
from portal.models import OrgUnit
from portal.scopes import Scope

# A ranking compares units of one level below the province (the territorial levels' tail).
RANKED_LEVELS: tuple[str, ...] = tuple(str(k) for k in OrgUnit.TERRITORIAL[1:])
_TERRITORIAL_ORDER = {kind: i for i, kind in enumerate(OrgUnit.TERRITORIAL)}
_ID_CHUNK = 2000


class RankBy(enum.StrEnum):
    ATTENDANCE = "attendance"
    COMPLETION = "completion"


def rate(part: int, whole: int) -> Decimal | None:
    """A percentage with one decimal (``None`` when there is nobody to count)."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class LecturePoint:
    attended: int = 0
    completed: int = 0
    attendance_rate: Decimal | None = None
    completion_rate: Decimal | None = None


@dataclass
class RankingRow:
    unit_id: int
    name: str
    code: str
    path: str
    headcount: int = 0
    enrolled: int = 0
    attended: int = 0  # summed over the started lectures
    completed: int = 0
    attendance_rate: Decimal | None = None
    completion_rate: Decimal | None = None
    rank: int | None = None
    points: list[LecturePoint] = field(default_factory=list)  # one per started lecture

    def key_rate(self, by: RankBy) -> Decimal | None:
        return self.attendance_rate if by == RankBy.ATTENDANCE else self.completion_rate


@dataclass
class Ranking:
    programme: Programme
    level: str
    rank_by: RankBy
    lectures: list[Lecture]
    rows: list[RankingRow]
    total: RankingRow


def level_default(*, above: OrgUnit | None) -> str:
    """The level just below ``above`` (a city's counties, ...); village at the bottom."""
    if above is None or above.kind not in _TERRITORIAL_ORDER:
        return OrgUnit.Kind.COUNTY
    index = min(_TERRITORIAL_ORDER[above.kind] + 1, len(OrgUnit.TERRITORIAL) - 1)
    return str(OrgUnit.TERRITORIAL[index])


def level_is_below(*, level: str, unit: OrgUnit) -> bool:
    """Whether units of ``level`` can lie inside ``unit`` (or be ``unit``)."""
    if unit.kind not in _TERRITORIAL_ORDER:
        return True  # a party school or department: whatever lies below it
    return _TERRITORIAL_ORDER[level] >= _TERRITORIAL_ORDER[unit.kind]


def ranking_units(*, scope: Scope, level: str, under: OrgUnit | None = None) -> QuerySet[OrgUnit]:
    """The units of ``level`` inside the scope (and inside ``under`` when given)."""
    qs = OrgUnit.objects.filter(scope.q(), kind=level)
    if under is not None:
        qs = qs.filter(path__startswith=under.path)
    return qs.order_by("path")


def started_lectures(*, programme: Programme) -> list[Lecture]:
    """The lectures counted: those that have started (the main report's ``n``)."""
    return lectures_counted(programme=programme)


def _fill_rates(row: RankingRow, lectures: int) -> None:
    row.attendance_rate = rate(row.attended, row.enrolled * lectures)
    row.completion_rate = rate(row.completed, row.enrolled * lectures)
    for point in row.points:
        point.attendance_rate = rate(point.attended, row.enrolled)
        point.completion_rate = rate(point.completed, row.enrolled)


def _sort_and_rank(rows: list[RankingRow], by: RankBy) -> None:
    other = RankBy.COMPLETION if by == RankBy.ATTENDANCE else RankBy.ATTENDANCE

    def key(row: RankingRow) -> tuple[int, Decimal, Decimal, str]:
        main, second = row.key_rate(by), row.key_rate(other)
        return (
            main is None,
            -(main or Decimal(0)),
            -(second or Decimal(0)),
            row.code or row.path,
        )

    rows.sort(key=key)
    previous: Decimal | None = None
    for position, row in enumerate(rows, start=1):
        value = row.key_rate(by)
        if value is None:
            row.rank = None
            continue
        if previous is None or value != previous:
            row.rank = position  # ties share a rank ("1, 2, 2, 4")
        else:
            row.rank = rows[position - 2].rank
        previous = value


def ranking_build(
    *,
    programme: Programme,
    level: str,
    units: Sequence[OrgUnit],
    rank_by: RankBy = RankBy.ATTENDANCE,
    lectures: Sequence[Lecture] | None = None,
) -> Ranking:
    """Rank ``units`` (all of ``level``) over the programme's started lectures."""
    chosen = list(lectures) if lectures is not None else started_lectures(programme=programme)
    lecture_ids = [lecture.pk for lecture in chosen]
    position = {pk: i for i, pk in enumerate(lecture_ids)}
    unit_ids = [unit.pk for unit in units]
    totals = summary_totals(unit_ids=unit_ids, lecture_ids=lecture_ids, programme_id=programme.pk)
    rows: dict[int, RankingRow] = {}
    for unit in units:
        t = totals[unit.pk]
        rows[unit.pk] = RankingRow(
            unit_id=unit.pk,
            name=unit.name,
            code=unit.code or "",
            path=unit.path,
            headcount=t.headcount,
            enrolled=t.enrolled,
            attended=t.attended,
            completed=t.completed,
            points=[LecturePoint() for _ in chosen],
        )
    if lecture_ids:
        for start in range(0, len(unit_ids), _ID_CHUNK):
            for lecture_id, unit_id, attended, completed in LectureUnitSummary.objects.filter(
                lecture_id__in=lecture_ids, unit_id__in=unit_ids[start : start + _ID_CHUNK]
            ).values_list("lecture_id", "unit_id", "attended", "completed"):
                point = rows[unit_id].points[position[lecture_id]]
                point.attended, point.completed = int(attended), int(completed)
    total = RankingRow(
        unit_id=0, name="", code="", path="", points=[LecturePoint() for _ in chosen]
    )
    for row in rows.values():
        _fill_rates(row, len(chosen))
        total.headcount += row.headcount
        total.enrolled += row.enrolled
        total.attended += row.attended
        total.completed += row.completed
        for mine, theirs in zip(total.points, row.points, strict=True):
            mine.attended += theirs.attended
            mine.completed += theirs.completed
    _fill_rates(total, len(chosen))
    ordered = list(rows.values())
    _sort_and_rank(ordered, rank_by)
    return Ranking(
        programme=programme,
        level=level,
        rank_by=rank_by,
        lectures=chosen,
        rows=ordered,
        total=total,
    )
