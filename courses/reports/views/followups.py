"""Views of the follow-up lists and the 通报 ranking (docs/reports.md).

Parse → authorise (``portal.scopes``: a unit outside the caller's area is 403, never an
empty page, in HTML and in every export) → read (``courses.reports.followups`` /
``courses.reports.ranking``) → render or export (``portal.exports``, audit-logged).
Bad input raises ``ReportError`` (the reports' one error type) and gets a Chinese page
with its code and status 400 (or 404 for unknown ids), never a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponseBase, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from courses.models import Lecture, Programme
from courses.reports.annual import (
    YEAR_MAX,
    YEAR_MIN,
    AnnualCells,
    annual_headers,
    annual_queryset,
    annual_rows,
    annual_summary,
    annual_target,
)
from courses.reports.followups import (
    FollowUpKind,
    FollowUpQuery,
    cursor_valid,
    followup_cells,
    followup_count,
    followup_headers,
    followup_page,
    followup_stream,
)
from courses.reports.ranking import (
    RANKED_LEVELS,
    RankBy,
    Ranking,
    level_default,
    level_is_below,
    ranking_build,
    ranking_units,
    started_lectures,
)
from courses.reports.request import (
    ReportError,
    ReportErrorCode,
    report_programme_current,
    report_programme_visible,
    report_programmes,
    scope_require,
    unit_param,
)
from courses.reports.views.attendance import report_error_page
from portal.exports import EXPORT_FORMATS, export_audit_write, export_filename, export_response
from portal.http import request_user
from portal.models import OrgUnit, User
from portal.scopes import Capability, Scope, unit_get_in_scope

_MAX_ID_DIGITS = 12
CHART_MAX_UNITS = 10


def _int_param(params: QueryDict, name: str, label: str, code: ReportErrorCode) -> int | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_ID_DIGITS:
        raise ReportError(code, _("The %(what)s must be given by its number.") % {"what": label})
    return int(raw)


def _choice(params: QueryDict, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if raw not in allowed:
        raise ReportError(
            ReportErrorCode.INVALID_CHOICE,
            _("Unknown value for “%(name)s”. Allowed: %(allowed)s.")
            % {"name": name, "allowed": ", ".join(allowed)},
        )
    return raw


def _format(params: QueryDict) -> str:
    raw = params.get("format", "").strip()
    if raw in ("", "html"):
        return "html"
    if raw not in EXPORT_FORMATS:
        raise ReportError(ReportErrorCode.INVALID_FORMAT, _("Unsupported format. Use csv or xlsx."))
    return raw


def _unit(params: QueryDict, user: User, scope: Scope, *, required: bool) -> OrgUnit | None:
    """The ``unit`` parameter, authorised; without one the caller's single area root."""
    code = params.get("unit", "").strip()
    if not code:
        roots = scope.roots()
        if len(roots) == 1 and (required or not scope.everything):
            return roots[0]
        if required:
            raise ReportError(ReportErrorCode.MISSING_UNIT)
        return None
    if len(code) > 40 or "\x00" in code:  # PostgreSQL rejects NUL in text
        raise ReportError(ReportErrorCode.UNKNOWN_UNIT)
    try:
        return unit_get_in_scope(user=user, capability=Capability.READ_REPORTS, code=code)
    except Http404 as exc:
        raise ReportError(ReportErrorCode.UNKNOWN_UNIT) from exc


def _programme(programme_id: int) -> Programme:
    programme = Programme.objects.filter(pk=programme_id).first()
    if programme is None:
        raise ReportError(ReportErrorCode.UNKNOWN_PROGRAMME)
    return programme


def _programme_visible(scope: Scope, programme: Programme) -> None:
    if not report_programme_visible(scope=scope, programme=programme):
        raise ReportError(ReportErrorCode.UNKNOWN_PROGRAMME)


def _programme_or_lecture(params: QueryDict) -> tuple[Programme, Lecture | None]:
    lecture_id = _int_param(params, "lecture", _("lecture"), ReportErrorCode.INVALID_LECTURE)
    programme_id = _int_param(
        params, "programme", _("programme"), ReportErrorCode.INVALID_PROGRAMME
    )
    if lecture_id is None and programme_id is None:
        raise ReportError(ReportErrorCode.MISSING_SUBJECT)
    lecture = None
    if lecture_id is not None:
        lecture = Lecture.objects.select_related("programme").filter(pk=lecture_id).first()
        if lecture is None:
            raise ReportError(ReportErrorCode.UNKNOWN_LECTURE)
        if programme_id is not None and lecture.programme_id != programme_id:
            _programme(programme_id)
            raise ReportError(ReportErrorCode.LECTURE_NOT_IN_PROGRAMME)
        return lecture.programme, lecture
    assert programme_id is not None  # noqa: S101 (narrowing)
    return _programme(programme_id), None


def _query(query: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in query.items() if v not in (None, "")})


# ---------------------------------------------------------------------------------------
# Follow-up lists
# ---------------------------------------------------------------------------------------


@dataclass
class _FollowUpRequest:
    query: FollowUpQuery
    fmt: str
    after: str


def _followup_parse(request: HttpRequest, user: User) -> _FollowUpRequest:
    params = request.GET
    scope = scope_require(user=user)
    programme, lecture = _programme_or_lecture(params)
    _programme_visible(scope, programme)
    kind = FollowUpKind(
        _choice(params, "kind", tuple(k.value for k in FollowUpKind), FollowUpKind.NOT_ENROLLED)
    )
    fmt = _format(params)
    after = params.get("after", "").strip()
    if after and not cursor_valid(after):
        raise ReportError(ReportErrorCode.INVALID_CURSOR)
    unit = _unit(params, user, scope, required=True)
    assert unit is not None  # noqa: S101 (required=True)
    started = (
        tuple(lec.pk for lec in started_lectures(programme=programme)) if lecture is None else ()
    )
    return _FollowUpRequest(
        query=FollowUpQuery(
            unit=unit, programme=programme, lecture=lecture, kind=kind, started=started
        ),
        fmt=fmt,
        after=after,
    )


def _kind_label(kind: FollowUpKind) -> str:
    return {
        FollowUpKind.NOT_ENROLLED: _("Not enrolled"),
        FollowUpKind.NOT_ATTENDED: _("Not attended"),
        FollowUpKind.NOT_COMPLETED: _("Not completed"),
    }[kind]


def _subject_label(query: FollowUpQuery) -> str:
    if query.lecture is not None:
        return _("Lecture %(n)s") % {"n": query.lecture.sequence}
    return query.programme.title


@login_required
@require_GET
def followup_list(request: HttpRequest) -> HttpResponseBase:
    user = request_user(request)
    try:
        parsed = _followup_parse(request, user)
    except ReportError as error:
        return report_error_page(request, error)
    query = parsed.query
    base = {
        "lecture": query.lecture.pk if query.lecture else None,
        "programme": None if query.lecture else query.programme.pk,
        "unit": unit_param(query.unit),
    }
    if parsed.fmt != "html":
        return _followup_export(request, user, query, parsed.fmt, base)
    page = followup_page(query=query, after=parsed.after)
    kinds = [
        {
            "value": kind.value,
            "label": _kind_label(kind),
            "url": "?" + _query({**base, "kind": kind.value}),
            "current": kind == query.kind,
        }
        for kind in FollowUpKind
    ]
    here = {**base, "kind": query.kind.value}
    return render(
        request,
        "courses/followups/list.html",
        {
            "query": query,
            "page": page,
            "kinds": kinds,
            "kind_label": _kind_label(query.kind),
            "subject": _subject_label(query),
            "first_url": "?" + _query(here) if parsed.after else "",
            "next_url": "?" + _query({**here, "after": page.next_cursor})
            if page.next_cursor
            else "",
            "csv_url": "?" + _query({**here, "format": "csv"}),
            "xlsx_url": "?" + _query({**here, "format": "xlsx"}),
            "report_query": _query(base),
            "lecture_not_started": query.lecture is not None
            and query.lecture.status == Lecture.Status.SCHEDULED,
        },
    )


def _followup_export(
    request: HttpRequest, user: User, query: FollowUpQuery, fmt: str, base: dict[str, Any]
) -> HttpResponseBase:
    count = followup_count(query=query)
    export_audit_write(
        user=user,
        report="followup",
        target=f"unit:{unit_param(query.unit)}",
        fmt=fmt,
        row_count=count,
        params={**base, "kind": query.kind.value},
    )
    rows: Iterator[tuple[str, ...]] = (followup_cells(r) for r in followup_stream(query=query))
    return export_response(
        fmt=fmt,
        filename=export_filename(
            _("Follow-up list"), query.unit.name, _subject_label(query), _kind_label(query.kind)
        ),
        headers=followup_headers(),
        rows=rows,
        sheet_title=_kind_label(query.kind),
    )


# ---------------------------------------------------------------------------------------
# 通报 ranking
# ---------------------------------------------------------------------------------------


def level_label(level: str) -> str:
    return str(OrgUnit.Kind(level).label)


def ranking_headers(ranking: Ranking) -> list[str]:
    headers = [
        _("Rank"),
        _("Unit"),
        _("Enrolled cadres"),
        _("Attendance rate (%)"),
        _("Completion rate (%)"),
    ]
    for lecture in ranking.lectures:
        n = lecture.sequence
        headers += [
            _("Lecture %(n)s attendance (%%)") % {"n": n},
            _("Lecture %(n)s completion (%%)") % {"n": n},
        ]
    return headers


def _num(value: Decimal | None) -> Decimal | str:
    return "" if value is None else value


def ranking_cells(ranking: Ranking) -> list[list[Any]]:
    out: list[list[Any]] = []
    for row in ranking.rows:
        cells: list[Any] = [
            row.rank if row.rank is not None else "",
            row.name,
            row.enrolled,
            _num(row.attendance_rate),
            _num(row.completion_rate),
        ]
        for point in row.points:
            cells += [_num(point.attendance_rate), _num(point.completion_rate)]
        out.append(cells)
    total = ranking.total
    cells = [
        "",
        _("Total"),
        total.enrolled,
        _num(total.attendance_rate),
        _num(total.completion_rate),
    ]
    for point in total.points:
        cells += [_num(point.attendance_rate), _num(point.completion_rate)]
    out.append(cells)
    return out


def ranking_chart(ranking: Ranking) -> dict[str, Any]:
    """Chart.js data: the chosen rate per lecture of the first ranked units and the total."""

    def series(points: list[Any]) -> list[float | None]:
        values = [
            p.attendance_rate if ranking.rank_by == RankBy.ATTENDANCE else p.completion_rate
            for p in points
        ]
        return [None if v is None else float(v) for v in values]

    return {
        "labels": [_("Lecture %(n)s") % {"n": lec.sequence} for lec in ranking.lectures],
        "metric": _("Attendance rate (%)")
        if ranking.rank_by == RankBy.ATTENDANCE
        else _("Completion rate (%)"),
        "total": {"label": _("Total"), "data": series(ranking.total.points)},
        "units": [
            {"label": row.name, "data": series(row.points)}
            for row in ranking.rows[:CHART_MAX_UNITS]
        ],
    }


@dataclass
class _RankingRequest:
    programme: Programme
    level: str
    rank_by: RankBy
    under: OrgUnit | None
    scope: Scope
    fmt: str
    choices: list[Programme]  # the programmes the viewer may rank (the picker)


def _ranking_parse(request: HttpRequest, user: User) -> _RankingRequest:
    params = request.GET
    scope = scope_require(user=user)
    if params.get("lecture", "").strip():
        raise ReportError(ReportErrorCode.PROGRAMME_ONLY)
    programme_id = _int_param(
        params, "programme", _("programme"), ReportErrorCode.INVALID_PROGRAMME
    )
    choices = report_programmes(scope=scope)
    if programme_id is None:  # the current programme; the page offers the others
        current = report_programme_current(programmes=choices)
        if current is None:
            raise ReportError(ReportErrorCode.MISSING_PROGRAMME)
        programme = current
    else:
        programme = _programme(programme_id)
        _programme_visible(scope, programme)
    rank_by = RankBy(_choice(params, "sort", tuple(r.value for r in RankBy), RankBy.ATTENDANCE))
    fmt = _format(params)
    under = _unit(params, user, scope, required=False)
    roots = scope.roots()
    default = level_default(above=under or (roots[0] if len(roots) == 1 else None))
    level = _choice(params, "level", tuple(str(lv) for lv in RANKED_LEVELS), default)
    if under is not None and not level_is_below(level=level, unit=under):
        raise ReportError(
            ReportErrorCode.INVALID_LEVEL,
            _("%(unit)s contains no units of the level “%(level)s”; choose a lower level.")
            % {"unit": under.name, "level": level_label(level)},
        )
    return _RankingRequest(programme, level, rank_by, under, scope, fmt, choices)


@login_required
@require_GET
def ranking(request: HttpRequest) -> HttpResponseBase:
    user = request_user(request)
    try:
        parsed = _ranking_parse(request, user)
    except ReportError as error:
        return report_error_page(request, error)
    units = list(ranking_units(scope=parsed.scope, level=parsed.level, under=parsed.under))
    result = ranking_build(
        programme=parsed.programme, level=parsed.level, units=units, rank_by=parsed.rank_by
    )
    base = {
        "programme": parsed.programme.pk,
        "level": parsed.level,
        "unit": unit_param(parsed.under) if parsed.under else None,
        "sort": parsed.rank_by.value,
    }
    if parsed.fmt != "html":
        export_audit_write(
            user=user,
            report="ranking",
            target=f"programme:{parsed.programme.pk}",
            fmt=parsed.fmt,
            row_count=len(result.rows),
            params=base,
        )
        return export_response(
            fmt=parsed.fmt,
            filename=export_filename(
                _("Ranking"),
                parsed.under.name if parsed.under else "",
                parsed.programme.title,
                level_label(parsed.level),
            ),
            headers=ranking_headers(result),
            rows=ranking_cells(result),
            sheet_title=_("Ranking"),
        )
    levels = [
        {
            "value": str(level),
            "label": level_label(level),
            "url": "?" + _query({**base, "level": str(level)}),
            "current": level == parsed.level,
        }
        for level in RANKED_LEVELS
        if parsed.under is None or level_is_below(level=level, unit=parsed.under)
    ]
    sorts = [
        {
            "label": _("By attendance rate")
            if by == RankBy.ATTENDANCE
            else _("By completion rate"),
            "url": "?" + _query({**base, "sort": by.value}),
            "current": by == parsed.rank_by,
        }
        for by in RankBy
    ]
    return render(
        request,
        "courses/followups/ranking.html",
        {
            "ranking": result,
            "headers": ranking_headers(result),
            "level_label": level_label(parsed.level),
            "under": parsed.under,
            "levels": levels,
            "sorts": sorts,
            "chart": ranking_chart(result),
            "csv_url": "?" + _query({**base, "format": "csv"}),
            "xlsx_url": "?" + _query({**base, "format": "xlsx"}),
            "report_query": _query({"programme": parsed.programme.pk, "unit": base["unit"]}),
            "programme_choices": [
                {
                    "title": p.title,
                    "url": "?" + _query({**base, "programme": p.pk}),
                    "current": p.pk == parsed.programme.pk,
                }
                for p in parsed.choices
            ]
            if len(parsed.choices) > 1
            else [],
        },
    )


# ---------------------------------------------------------------------------------------
# Annual study hours (issue 18 §4): by unit, with who is below the target
# ---------------------------------------------------------------------------------------
ANNUAL_SHOWN = 200  # rows on the page; the exports carry them all


def _year(params: QueryDict) -> int:
    raw = params.get("year", "").strip()
    if not raw:
        return timezone.localtime().year
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4) or not (
        YEAR_MIN <= int(raw) <= YEAR_MAX
    ):
        raise ReportError(ReportErrorCode.INVALID_YEAR)
    return int(raw)


@login_required
@require_GET
def study_hours(request: HttpRequest) -> HttpResponseBase:
    """``/reports/study-hours/?unit=CODE&year=2026[&list=all][&format=csv|xlsx]``."""
    user = request_user(request)
    try:
        params = request.GET
        scope = scope_require(user=user)
        year, fmt = _year(params), _format(params)
        below_only = _choice(params, "list", ("below", "all"), "below") == "below"
        unit = _unit(params, user, scope, required=True)
        assert unit is not None  # noqa: S101 (required=True)
    except ReportError as error:
        return report_error_page(request, error)
    base = {"unit": unit_param(unit), "year": year, "list": "below" if below_only else "all"}
    if fmt != "html":
        export_audit_write(
            user=user,
            report="study_hours",
            target=f"unit:{unit_param(unit)}",
            fmt=fmt,
            row_count=annual_queryset(unit=unit, year=year, below_only=below_only).count(),
            params=base,
        )
        cells = AnnualCells()
        return export_response(
            fmt=fmt,
            filename=export_filename(_("Study hours"), unit.name, year),
            headers=annual_headers(),
            rows=(cells(r) for r in annual_rows(unit=unit, year=year, below_only=below_only)),
            sheet_title=str(year),
        )
    summary = annual_summary(unit=unit, year=year)
    cells = AnnualCells()
    rows = [
        cells(r)
        for r in annual_rows(unit=unit, year=year, below_only=below_only, limit=ANNUAL_SHOWN)
    ]
    return render(
        request,
        "courses/reports/study_hours.html",
        {
            "unit": unit,
            "year": year,
            "years": list(range(timezone.localtime().year, YEAR_MIN - 1, -1))[:6],
            "below_only": below_only,
            "summary": summary,
            "target": annual_target(),
            "headers": annual_headers(),
            "rows": rows,
            "shown": ANNUAL_SHOWN,
            "listed": summary.below if below_only else summary.cadres,
            "below_url": "?" + _query({**base, "list": "below"}),
            "all_url": "?" + _query({**base, "list": "all"}),
            "csv_url": "?" + _query({**base, "format": "csv"}),
            "xlsx_url": "?" + _query({**base, "format": "xlsx"}),
        },
    )
