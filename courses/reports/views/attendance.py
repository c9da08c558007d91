"""The attendance report pages (docs/reports.md): HTML, CSV/XLSX downloads and the charts' JSON.

Each view parses and authorises through ``courses.reports.attendance.report_request_parse`` (one
helper for every output), then renders. Bad input → 400 with a Chinese message (JSON:
``{"error": code}``), unknown objects → 404, a unit outside the viewer's area → 403.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from courses.reports import attendance as reports
from courses.reports import columns as report_columns
from courses.reports import request as report_request
from courses.reports.extra import report_extras_available
from courses.reports.request import ReportError, ReportRequest
from portal.exports import export_response
from portal.http import request_user
from portal.models import OrgUnit


def _report_url(request: ReportRequest, **changes: Any) -> str:
    return f"{reverse('courses:attendance_report')}?{urlencode(request.query(**changes))}"


def report_error_page(request: HttpRequest, error: ReportError) -> HttpResponse:
    """The one error page of the reports (attendance, follow-ups, ranking)."""
    return render(
        request,
        "courses/reports/error.html",
        {"message": error.message, "code": error.code_value},
        status=error.status,
    )


@require_GET
@login_required
def attendance_report(request: HttpRequest) -> HttpResponseBase:
    user = request_user(request)
    try:
        parsed = report_request.report_request_parse(user=user, params=request.GET)
        if parsed.programme is None:
            # Nothing has started yet: the reports home's list of programmes and lectures.
            return render(
                request,
                "portal/reports_home.html",
                {
                    "roots": [parsed.unit],
                    "programmes": reports.report_programme_choices(request=parsed),
                },
            )
        if parsed.fmt != "html":
            export = reports.report_export_build(request=parsed)
            reports.report_export_audit(request=parsed, fmt=parsed.fmt, row_count=export.row_count)
            return export_response(
                fmt=parsed.fmt, filename=export.filename, headers=export.headers, rows=export.rows
            )
        printing = request.GET.get("print") == "1"
        context = _page_context(parsed, printing=printing)
        if parsed.view == "cadres":
            listing = reports.cadre_list_build(request=parsed)
            context.update(_cadre_context(parsed, listing))
            template = "courses/reports/cadres.html"
        else:
            report = reports.unit_report_build(request=parsed)
            context.update(_unit_context(parsed, report))
            template = "courses/reports/units.html"
    except ReportError as error:
        return report_error_page(request, error)
    if printing:
        reports.report_export_audit(
            request=parsed, fmt="print", row_count=len(context["table_rows"])
        )
    return render(request, template, context)


def _page_context(parsed: ReportRequest, *, printing: bool) -> dict[str, Any]:
    unit = parsed.unit
    levels = []
    if unit.kind in OrgUnit.TERRITORIAL and parsed.view == "units":
        below = OrgUnit.TERRITORIAL[OrgUnit.TERRITORIAL.index(unit.kind) + 1 :]
        levels = [(k, OrgUnit.Kind(k).label) for k in below]
    programme = parsed.programme
    assert programme is not None  # noqa: S101 (the chooser handled None)
    return {
        "req": parsed,
        "unit": unit,
        "programme": programme,
        "subject": reports.report_subject(request=parsed),
        "crumbs": [
            (
                u,
                _report_url(
                    parsed, unit=report_request.unit_param(u), sort=None, level=None, page=None
                ),
            )
            for u in reports.report_breadcrumbs(request=parsed)
        ],
        "lecture_choices": programme.lectures.order_by("sequence"),
        "levels": levels,
        "lectures_counted": len(parsed.lectures),
        "csv_url": _report_url(parsed, format="csv", page=None),
        "xlsx_url": _report_url(parsed, format="xlsx", page=None),
        "print_url": _report_url(parsed, print="1"),
        "data_url": f"{reverse('courses:attendance_report_data')}?"
        f"{urlencode(parsed.query(page=None))}",
        "cadres_url": _report_url(parsed, view="cadres", sort=None, level=None, page=None),
        "units_url": _report_url(parsed, view=None, sort=None, page=None),
        "extra_links": [
            {
                "label": extra.label,
                "on": extra.key in parsed.extras,
                "url": _report_url(parsed, extra=_extras_toggled(parsed, extra.key), sort=None),
            }
            for extra in report_extras_available()
        ],
        "printing": printing,
    }


def _extras_toggled(parsed: ReportRequest, key: str) -> str | None:
    """The ``extra`` parameter with ``key`` switched on or off (None: no extras left)."""
    keys = [k for k in parsed.extras if k != key]
    if key not in parsed.extras:
        keys.append(key)
    return ",".join(keys) or None


def _sort_links(
    parsed: ReportRequest, columns: tuple[report_columns.Column, ...], allowed: frozenset[str]
) -> list[dict[str, Any]]:
    links = []
    for column in columns:
        current = parsed.sort == column.key
        if current:
            descending = not parsed.descending
        else:
            descending = column.numeric  # biggest first on the first click
        aria = "none"
        if current:
            aria = "descending" if parsed.descending else "ascending"
        links.append(
            {
                "column": column,
                "url": (
                    _report_url(parsed, sort=("-" if descending else "") + column.key, page=None)
                    if column.key in allowed
                    else ""
                ),
                "aria_sort": aria,
            }
        )
    return links


def _unit_context(parsed: ReportRequest, report: reports.UnitReport) -> dict[str, Any]:
    table_rows = []
    for row in report.all_rows():
        url = ""
        if row.kind == reports.RowKind.UNIT and row.unit is not None:
            url = _report_url(parsed, unit=row.code, sort=None, level=None, page=None, view=None)
        table_rows.append(
            {
                "row": row,
                "url": url,
                "cells": [report_columns.cell_text(c, row.values[c.key]) for c in report.columns],
            }
        )
    return {
        "report": report,
        "columns": _sort_links(
            parsed, report.columns, report_request.unit_sort_keys(parsed.extras)
        ),
        "table_rows": table_rows,
        "chart_height": 60 + 34 * len(report.rows),
    }


def _cadre_context(parsed: ReportRequest, listing: reports.CadreList) -> dict[str, Any]:
    summary_cells = []
    if listing.summary:
        summary_cells = [
            (c.label, report_columns.cell_text(c, listing.summary[c.key]))
            for c in report_columns.UNIT_COLUMNS[1:]
        ]
    return {
        "listing": listing,
        "columns": _sort_links(parsed, listing.columns, report_columns.CADRE_SORT_KEYS),
        "table_rows": [
            {"cells": [report_columns.cell_text(c, row[c.key]) for c in listing.columns]}
            for row in listing.rows
        ],
        "summary_cells": summary_cells,
        "prev_url": _report_url(parsed, page=listing.page - 1) if listing.page > 1 else "",
        "next_url": (
            _report_url(parsed, page=listing.page + 1) if listing.page < listing.pages else ""
        ),
    }


def _rate(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value) * 100, 1)


@require_GET
def attendance_report_data(request: HttpRequest) -> JsonResponse:
    """The charts' data: rates by child unit and, for a programme, by lecture."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "not_signed_in"}, status=401)
    user = request_user(request)
    try:
        parsed = report_request.report_request_parse(
            user=user, params=request.GET, formats=("html",)
        )
    except ReportError as error:
        return JsonResponse(
            {"error": error.code_value, "message": error.message}, status=error.status
        )
    except PermissionDenied:
        return JsonResponse({"error": "forbidden"}, status=403)
    except Http404:
        return JsonResponse({"error": "not_found"}, status=404)
    if parsed.programme is None:
        return JsonResponse({"error": "no_programme"}, status=404)
    units: list[dict[str, Any]] = []
    if parsed.view == "units":
        report = reports.unit_report_build(request=parsed)
        units = [
            {
                "name": row.label,
                "unit": row.code,
                "attendance_rate": _rate(row.values["attendance_rate"]),
                "completion_rate": _rate(row.values["completion_rate"]),
            }
            for row in report.rows
        ]
    trend = [
        {
            "lecture": point.lecture.pk,
            "label": _("Lecture %(n)s") % {"n": point.lecture.sequence},
            "title": point.lecture.title,
            "attendance_rate": _rate(point.attendance_rate),
            "completion_rate": _rate(point.completion_rate),
        }
        for point in reports.programme_trend(request=parsed)
    ]
    return JsonResponse(
        {
            "unit": {"name": parsed.unit.name, "code": report_request.unit_param(parsed.unit)},
            "subject": reports.report_subject(request=parsed),
            "lectures_counted": len(parsed.lectures),
            "units": units,
            "trend": trend,
        },
        json_dumps_params={"ensure_ascii": False},
    )
