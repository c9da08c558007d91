"""The attendance report (docs/reports.md): read side.

One report = one lecture or a whole programme, seen from one unit of the org tree:

* **units view** (default): one row per child unit (or per unit of the chosen ``level``
  below it), a 本级直属 row for the cadres sitting directly in the unit when it is not
  empty, and a total row. Every number counts the row's whole subtree and comes from the
  summary tables of ``courses.summaries.sync`` (O(units) rows, never the raw attendance rows).
* **cadres view** (a unit with no children, or ``view=cadres``): the cadres of the unit's
  subtree with their own counts. It reads the state the summaries last counted for each
  attendance row (``Attendance.tally``), so the list always adds up to the unit's row.

Definitions (also in docs/reports.md). ``n`` = lectures counted: 1 for a lecture report,
the programme's lectures that have started for a programme report. Attended counts
person-times (人次): a cadre who attended three lectures counts three.

* attendance rate = attended / (enrolled × n); completion rate = completed / (enrolled × n);
  enrolment rate = enrolled / headcount;
* average minutes = watched seconds / 60 / attended; credit hours = Σ completed × the
  lecture's credit hours.

Parsing and authorisation: ``courses.reports.request``; columns: ``courses.reports.columns``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from courses.models import Enrolment, Lecture, LectureUnitSummary, Programme
from courses.reports.columns import UNIT_COLUMNS, Column, cadre_columns, cell_export
from courses.reports.extra import ExtraQuery, report_extra_get
from courses.reports.request import (
    CADRES_PER_PAGE,
    ReportError,
    ReportErrorCode,
    ReportRequest,
    report_programmes,
    unit_param,
)
from courses.summaries.sync import ATTENDED, COMPLETED, IN_PERSON, LIVE, REPLAY
from courses.summaries.totals import Totals, summary_totals
from portal.exports import export_audit_write, export_filename
from portal.models import OrgUnit, User, mask_phone

# ---------------------------------------------------------------------------------------
# The units view
# ---------------------------------------------------------------------------------------


class RowKind(enum.StrEnum):
    UNIT = "unit"
    DIRECT = "direct"  # 本级直属 / not under any unit of the chosen level
    TOTAL = "total"


@dataclass
class ReportRow:
    kind: RowKind
    label: str
    unit: OrgUnit | None
    values: dict[str, Any]
    has_children: bool = False

    @property
    def code(self) -> str:
        return unit_param(self.unit) if self.unit is not None else ""


@dataclass
class UnitReport:
    request: ReportRequest
    columns: tuple[Column, ...]
    rows: list[ReportRow]  # child units, sorted
    direct: ReportRow | None
    total: ReportRow
    lectures_counted: int

    def all_rows(self) -> list[ReportRow]:
        """The rows as on the page and in the exports: units, 本级直属, total."""
        return [*self.rows, *([self.direct] if self.direct else []), self.total]


def report_values(t: Totals, n: int, label: str) -> dict[str, Any]:
    """One report row's figures from its totals over ``n`` lectures (counts and rates)."""
    base = t.enrolled * n
    return {
        "name": label,
        "headcount": t.headcount,
        "enrolled": t.enrolled,
        "enrolment_rate": Decimal(t.enrolled) / t.headcount if t.headcount else None,
        "attended": t.attended,
        "in_person": t.in_person,
        "online_live": t.online_live,
        "replay": t.replay,
        "completed": t.completed,
        "attendance_rate": Decimal(t.attended) / base if base else None,
        "completion_rate": Decimal(t.completed) / base if base else None,
        "avg_minutes": Decimal(t.seconds) / 60 / t.attended if t.attended else None,
        "credit_hours": t.credit_hours,
    }


_TOTAL_FIELDS = tuple(f.name for f in fields(Totals))


def _minus(total: Totals, parts: Sequence[Totals]) -> Totals:
    """``total`` minus ``parts``, field by field (the 本级直属 remainder)."""
    rest = Totals()
    for name in _TOTAL_FIELDS:
        setattr(rest, name, getattr(total, name) - sum(getattr(p, name) for p in parts))
    return rest


def report_units(*, unit: OrgUnit, level: str = "") -> list[OrgUnit]:
    """The rows' units: the children of ``unit``, or its descendants of kind ``level``."""
    if level:
        qs = OrgUnit.objects.filter(path__startswith=unit.path, kind=level).exclude(pk=unit.pk)
    else:
        qs = OrgUnit.objects.filter(
            path__startswith=unit.path, depth=unit.depth + 1
        )  # == get_children(), one indexed range scan
    return list(qs.order_by("path"))


def unit_report_build(*, request: ReportRequest) -> UnitReport:
    """The units view: a few reads of the summary tables, whatever the number of cadres."""
    units = report_units(unit=request.unit, level=request.level)
    n = len(request.lectures)
    totals = (
        summary_totals(
            unit_ids=[request.unit.pk, *(u.pk for u in units)],
            lecture_ids=request.lecture_ids,
            programme_id=request.programme.pk,
        )
        if request.programme is not None
        else {u.pk: Totals() for u in [request.unit, *units]}
    )
    rows = [
        ReportRow(
            kind=RowKind.UNIT,
            label=u.name,
            unit=u,
            values=report_values(totals[u.pk], n, u.name),
            has_children=u.numchild > 0,
        )
        for u in units
    ]
    rest = _minus(totals[request.unit.pk], [totals[u.pk] for u in units])
    direct = None
    if any(getattr(rest, f) for f in ("headcount", "enrolled", "attended", "completed", "seconds")):
        label = (
            _("Not under any unit of this level") if request.level else _("Directly in this unit")
        )
        direct = ReportRow(kind=RowKind.DIRECT, label=label, unit=None, values={})
        direct.values = report_values(rest, n, label)
    total_label = _("Total")
    total = ReportRow(
        kind=RowKind.TOTAL,
        label=total_label,
        unit=request.unit,
        values=report_values(totals[request.unit.pk], n, total_label),
    )
    columns = UNIT_COLUMNS
    for key in request.extras:
        columns += _extra_apply(request, key, units, rows, direct, total)
    if request.sort:
        rows = _sorted(rows, request.sort, request.descending)
    return UnitReport(
        request=request,
        columns=columns,
        rows=rows,
        direct=direct,
        total=total,
        lectures_counted=n,
    )


def _extra_apply(
    request: ReportRequest,
    key: str,
    units: list[OrgUnit],
    rows: list[ReportRow],
    direct: ReportRow | None,
    total: ReportRow,
) -> tuple[Column, ...]:
    """Fill an optional column group into the rows; 本级直属 is the total less the rows."""
    extra = report_extra_get(key)
    if extra is None or request.programme is None:
        return ()
    figures = extra.values(
        ExtraQuery(
            units=[request.unit, *units],
            lecture_ids=request.lecture_ids,
            programme_id=request.programme.pk,
        )
    )
    for row in rows:
        assert row.unit is not None  # noqa: S101 (unit rows have their unit)
        part = figures.get(row.unit.pk, {})
        row.values.update({c.key: part.get(c.key, 0) for c in extra.columns})
    whole = figures.get(request.unit.pk, {})
    total.values.update({c.key: whole.get(c.key, 0) for c in extra.columns})
    if direct is not None:
        direct.values.update(
            {c.key: whole.get(c.key, 0) - sum(r.values[c.key] for r in rows) for c in extra.columns}
        )
    return extra.columns


def _sorted(rows: list[ReportRow], key: str, descending: bool) -> list[ReportRow]:
    """Sort by one column; empty values (—) last either way; ties keep the tree order."""
    present = [r for r in rows if r.values.get(key) is not None]
    missing = [r for r in rows if r.values.get(key) is None]
    present.sort(key=lambda r: r.values[key], reverse=descending)
    return present + missing


def unit_report_table(*, report: UnitReport) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows for the CSV/XLSX: exactly the table on the page."""
    headers = [str(c.label) for c in report.columns]
    rows = [
        [cell_export(c, row.values[c.key]) for c in report.columns] for row in report.all_rows()
    ]
    return headers, rows


@dataclass(frozen=True)
class TrendPoint:
    lecture: Lecture
    attendance_rate: Decimal | None
    completion_rate: Decimal | None


def programme_trend(*, request: ReportRequest) -> list[TrendPoint]:
    """The chosen unit's rates lecture by lecture (the programme chart); two queries."""
    if request.programme is None or request.single_lecture:
        return []
    enrolled = summary_totals(
        unit_ids=[request.unit.pk], lecture_ids=[], programme_id=request.programme.pk
    )[request.unit.pk].enrolled
    per_lecture = {
        lecture_id: (attended, completed)
        for lecture_id, attended, completed in LectureUnitSummary.objects.filter(
            unit=request.unit, lecture_id__in=request.lecture_ids
        ).values_list("lecture_id", "attended", "completed")
    }
    points = []
    for lecture in request.lectures:
        attended, completed = per_lecture.get(int(lecture.pk), (0, 0))
        points.append(
            TrendPoint(
                lecture=lecture,
                attendance_rate=Decimal(attended) / enrolled if enrolled else None,
                completion_rate=Decimal(completed) / enrolled if enrolled else None,
            )
        )
    return points


# ---------------------------------------------------------------------------------------
# The cadres view
# ---------------------------------------------------------------------------------------

_BITS_WITH = {bit: [v for v in range(32) if v & bit] for bit in (ATTENDED, IN_PERSON, LIVE, REPLAY)}
_BITS_WITH[COMPLETED] = [v for v in range(32) if v & COMPLETED and v & ATTENDED]


@dataclass
class CadreList:
    request: ReportRequest
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    count: int
    page: int
    pages: int
    summary: dict[str, Any] = field(default_factory=dict)  # the unit's row (from summaries)


def cadre_queryset(*, request: ReportRequest) -> QuerySet[User, dict[str, Any]]:
    """Every cadre of the unit's subtree with the counts of the chosen lecture(s), sorted."""
    ids = request.lecture_ids
    here = Q(attendances__lecture_id__in=ids)

    def count(bit: int) -> Count:
        return Count("attendances", filter=here & Q(attendances__tally__in=_BITS_WITH[bit]))

    enrolled: Any = Value(False)
    if request.programme is not None:
        enrolled = Exists(
            Enrolment.objects.filter(
                user=OuterRef("pk"),
                programme_id=request.programme.pk,
                status=Enrolment.Status.ACTIVE,
            )
        )
    qs: Any = (  # (the stubs' annotated TypedDict types add nothing here)
        User.objects.filter(unit__path__startswith=request.unit.path)
        .annotate(
            r_enrolled=enrolled,
            r_attended=count(ATTENDED),
            r_in_person=count(IN_PERSON),
            r_online_live=count(LIVE),
            r_replay=count(REPLAY),
            r_completed=count(COMPLETED),
            r_seconds=Coalesce(Sum("attendances__tally_seconds", filter=here), 0),
            r_credit=Coalesce(
                Sum(
                    "attendances__lecture__credit_hours",
                    filter=here & Q(attendances__tally__in=_BITS_WITH[COMPLETED]),
                ),
                Value(Decimal("0")),
                output_field=DecimalField(max_digits=8, decimal_places=1),
            ),
        )
        .values(
            "pk",
            "full_name",
            "username",
            "first_name",
            "last_name",
            "phone",
            "job_title",
            "unit__name",
            "unit__path",
            "r_enrolled",
            "r_attended",
            "r_in_person",
            "r_online_live",
            "r_replay",
            "r_completed",
            "r_seconds",
            "r_credit",
        )
    )
    return qs.order_by(*_cadre_order(request))


_CADRE_ORDER = {
    "name": ("full_name", "username"),
    "unit": ("unit__name",),
    "job_title": ("job_title",),
    "enrolled": ("r_enrolled",),
    "attended": ("r_attended",),
    "in_person": ("r_in_person",),
    "online_live": ("r_online_live",),
    "replay": ("r_replay",),
    "completed": ("r_completed",),
    "attendance_rate": ("r_attended",),  # the same n for every cadre
    "minutes": ("r_seconds",),
    "credit_hours": ("r_credit",),
}


def _cadre_order(request: ReportRequest) -> list[Any]:
    tail = ["unit__path", "full_name", "pk"]
    if not request.sort:
        return tail
    fields = _CADRE_ORDER[request.sort]
    return [F(f).desc() if request.descending else F(f).asc() for f in fields] + tail


def _cadre_values(row: Mapping[str, Any], n: int) -> dict[str, Any]:
    name = row["full_name"] or f"{row['last_name']}{row['first_name']}" or row["username"]
    enrolled = bool(row["r_enrolled"])
    return {
        "pk": row["pk"],
        "name": name,
        "unit": row["unit__name"] or "",
        "job_title": row["job_title"] or "",
        "phone": mask_phone(row["phone"]),
        "enrolled": enrolled,
        "attended": row["r_attended"],
        "in_person": row["r_in_person"],
        "online_live": row["r_online_live"],
        "replay": row["r_replay"],
        "completed": row["r_completed"],
        "attendance_rate": Decimal(row["r_attended"]) / n if enrolled and n else None,
        "minutes": Decimal(int(row["r_seconds"] or 0)) / 60,
        "credit_hours": Decimal(row["r_credit"] or 0),
    }


def cadre_list_build(*, request: ReportRequest, per_page: int = CADRES_PER_PAGE) -> CadreList:
    """One page of the cadres view (the count, one page of rows, the unit's summary row)."""
    columns = cadre_columns(single_lecture=request.single_lecture)
    n = len(request.lectures)
    count = cadre_count(request=request)
    if count > int(settings.REPORT_CADRE_LIST_MAX):
        # Each page sorts the whole subtree's rows; the downloads stream them instead.
        raise ReportError(ReportErrorCode.TOO_MANY_CADRES)
    pages = max(1, -(-count // per_page))
    if request.page > pages:
        raise ReportError(ReportErrorCode.INVALID_PAGE)
    start = (request.page - 1) * per_page
    rows = [_cadre_values(r, n) for r in cadre_queryset(request=request)[start : start + per_page]]
    summary: dict[str, Any] = {}
    if request.programme is not None:
        t = summary_totals(
            unit_ids=[request.unit.pk],
            lecture_ids=request.lecture_ids,
            programme_id=request.programme.pk,
        )[request.unit.pk]
        summary = report_values(t, n, request.unit.name)
    return CadreList(
        request=request,
        columns=columns,
        rows=rows,
        count=count,
        page=request.page,
        pages=pages,
        summary=summary,
    )


def cadre_count(*, request: ReportRequest) -> int:
    return User.objects.filter(unit__path__startswith=request.unit.path).count()


def cadre_table(*, request: ReportRequest) -> tuple[list[str], Iterator[list[Any]]]:
    """Headers and every row of the cadres view (all pages), streamed from a server-side
    cursor so a 100k-row export keeps memory flat."""
    columns = cadre_columns(single_lecture=request.single_lecture)
    n = len(request.lectures)

    def rows() -> Iterator[list[Any]]:
        for row in cadre_queryset(request=request).iterator(chunk_size=2000):
            values = _cadre_values(row, n)
            yield [cell_export(c, values[c.key]) for c in columns]

    return [str(c.label) for c in columns], rows()


# ---------------------------------------------------------------------------------------
# Navigation
# ---------------------------------------------------------------------------------------


def report_breadcrumbs(*, request: ReportRequest) -> list[OrgUnit]:
    """The units from the viewer's scope root down to the chosen unit (never above)."""
    if request.root.pk == request.unit.pk:
        return [request.unit]
    paths = [
        request.unit.path[:i]
        for i in range(len(request.root.path), len(request.unit.path), OrgUnit.steplen)
    ]
    return [*OrgUnit.objects.filter(path__in=paths).order_by("depth"), request.unit]


def report_subject(*, request: ReportRequest) -> str:
    """``第3讲 标题`` or the programme title (file names, headings, audit)."""
    if request.lecture is not None:
        return _("Lecture %(n)s %(title)s") % {
            "n": request.lecture.sequence,
            "title": request.lecture.title,
        }
    return request.programme.title if request.programme is not None else ""


def report_programme_choices(*, request: ReportRequest) -> list[Programme]:
    """Programmes for the chooser (with their lectures prefetched)."""
    return report_programmes(scope=request.scope)


# ---------------------------------------------------------------------------------------
# Exports (web and CLI)
# ---------------------------------------------------------------------------------------


@dataclass
class ReportExport:
    filename: str
    headers: list[str]
    rows: Iterable[Sequence[Any]]
    row_count: int


def report_export_build(*, request: ReportRequest) -> ReportExport:
    """What a CSV/XLSX of this report holds: exactly the table on the page (every page of
    the cadres view)."""
    subject = report_subject(request=request)
    if request.view == "cadres":
        headers, rows = cadre_table(request=request)
        return ReportExport(
            filename=export_filename(_("Attendance list"), request.unit.name, subject),
            headers=headers,
            rows=rows,
            row_count=cadre_count(request=request),
        )
    report = unit_report_build(request=request)
    headers, table = unit_report_table(report=report)
    return ReportExport(
        filename=export_filename(_("Attendance report"), request.unit.name, subject),
        headers=headers,
        rows=table,
        row_count=len(table),
    )


def report_export_audit(
    *, request: ReportRequest, fmt: str, row_count: int, via: str = "web"
) -> None:
    """The audit-log row of one export of this report."""
    export_audit_write(
        user=request.user,
        report="attendance",
        target=f"portal.orgunit:{request.unit.pk}",
        fmt=fmt,
        row_count=row_count,
        params=request.query(page=None),
        via=via,
    )
