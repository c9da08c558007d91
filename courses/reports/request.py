"""The report request (docs/reports.md): parsing and authorisation, errors, the
programmes a scope may report on.

Malformed input raises ``ReportError`` (400, with a code), unknown objects ``Http404``,
a unit outside the caller's scope ``PermissionDenied`` (403, never an empty table).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from courses.models import Lecture, Programme
from courses.reports.columns import CADRE_SORT_KEYS, UNIT_SORT_KEYS
from courses.reports.extra import report_extra_get
from courses.selectors import lecture_status_q
from portal.errors import CodedError
from portal.models import OrgUnit, User
from portal.scopes import Capability, Scope, scope_for, unit_get_in_scope

# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


class ReportErrorCode(enum.StrEnum):
    INVALID_LECTURE = "invalid_lecture"
    INVALID_PROGRAMME = "invalid_programme"
    INVALID_UNIT = "invalid_unit"
    INVALID_FORMAT = "invalid_format"
    INVALID_SORT = "invalid_sort"
    INVALID_LEVEL = "invalid_level"
    INVALID_VIEW = "invalid_view"
    INVALID_PAGE = "invalid_page"
    REPEATED_PARAMETER = "repeated_parameter"
    LECTURE_NOT_IN_PROGRAMME = "lecture_not_in_programme"
    TOO_MANY_CADRES = "too_many_cadres"
    INVALID_CHOICE = "invalid_choice"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_YEAR = "invalid_year"
    MISSING_SUBJECT = "missing_subject"
    MISSING_PROGRAMME = "missing_programme"
    MISSING_UNIT = "missing_unit"
    PROGRAMME_ONLY = "programme_only"
    UNKNOWN_LECTURE = "unknown_lecture"
    UNKNOWN_PROGRAMME = "unknown_programme"
    UNKNOWN_UNIT = "unknown_unit"


# Codes that answer 404 (the object does not exist, or is not the caller's to name).
_NOT_FOUND = frozenset(
    {
        ReportErrorCode.UNKNOWN_LECTURE,
        ReportErrorCode.UNKNOWN_PROGRAMME,
        ReportErrorCode.UNKNOWN_UNIT,
    }
)


_MESSAGES: dict[ReportErrorCode, Promise] = {
    ReportErrorCode.INVALID_LECTURE: gettext_lazy("The lecture must be given by its number id."),
    ReportErrorCode.INVALID_PROGRAMME: gettext_lazy(
        "The programme must be given by its number id."
    ),
    ReportErrorCode.INVALID_UNIT: gettext_lazy(
        "The unit must be given by its 12-digit administrative code."
    ),
    ReportErrorCode.INVALID_FORMAT: gettext_lazy(
        "Unknown export format: choose CSV or Excel (xlsx)."
    ),
    ReportErrorCode.INVALID_SORT: gettext_lazy("The table cannot be sorted by this column."),
    ReportErrorCode.INVALID_LEVEL: gettext_lazy(
        "Unknown level, or a level that is not below the chosen unit."
    ),
    ReportErrorCode.INVALID_VIEW: gettext_lazy("Unknown report view."),
    ReportErrorCode.INVALID_PAGE: gettext_lazy("The page number is not valid."),
    ReportErrorCode.REPEATED_PARAMETER: gettext_lazy("A report parameter was given twice."),
    ReportErrorCode.TOO_MANY_CADRES: gettext_lazy(
        "This unit has too many cadres to list on screen: open a lower unit, or download "
        "the list as CSV or Excel."
    ),
    ReportErrorCode.LECTURE_NOT_IN_PROGRAMME: gettext_lazy(
        "This lecture does not belong to the chosen programme."
    ),
    ReportErrorCode.INVALID_CHOICE: gettext_lazy("A report parameter has an unknown value."),
    ReportErrorCode.INVALID_CURSOR: gettext_lazy(
        "The page position is not valid; start again from the first page."
    ),
    ReportErrorCode.INVALID_YEAR: gettext_lazy("The year must be a four-digit calendar year."),
    ReportErrorCode.MISSING_SUBJECT: gettext_lazy("Choose a lecture or a programme."),
    ReportErrorCode.MISSING_PROGRAMME: gettext_lazy("Choose a programme."),
    ReportErrorCode.MISSING_UNIT: gettext_lazy("Choose a unit."),
    ReportErrorCode.PROGRAMME_ONLY: gettext_lazy(
        "The ranking covers a whole programme: give programme=<id>."
    ),
    ReportErrorCode.UNKNOWN_LECTURE: gettext_lazy("No such lecture."),
    ReportErrorCode.UNKNOWN_PROGRAMME: gettext_lazy("No such programme."),
    ReportErrorCode.UNKNOWN_UNIT: gettext_lazy("No such unit."),
}


class ReportError(CodedError):
    """A report request we cannot answer: ``code`` for APIs, ``message`` for people and the
    HTTP ``status`` (400 for malformed input, 404 for an unknown object)."""

    code: ReportErrorCode
    messages = _MESSAGES

    @property
    def status(self) -> int:
        return 404 if self.code in _NOT_FOUND else 400


# ---------------------------------------------------------------------------------------

VIEWS = ("units", "cadres")
CADRES_PER_PAGE = 100

_ID = re.compile(r"^[0-9]{1,10}$")
_UNIT = re.compile(r"^(?:[0-9]{12}|pk:[0-9]{1,10})$")
_SORT = re.compile(r"^-?[a-z_]{1,32}$")


# ---------------------------------------------------------------------------------------
# Request parsing and authorisation
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRequest:
    """A parsed, authorised report request."""

    user: User
    scope: Scope
    root: OrgUnit  # the viewer's scope root above (or at) ``unit``
    unit: OrgUnit
    programme: Programme | None  # None: nothing to report on yet (show the chooser)
    lecture: Lecture | None  # None with a programme: the whole programme
    lectures: tuple[Lecture, ...]  # the lectures counted (started ones of the programme)
    view: str = "units"
    level: str = ""
    sort: str = ""
    descending: bool = False
    page: int = 1
    fmt: str = "html"
    extras: tuple[str, ...] = ()  # optional column groups (courses/reports/extra.py)

    @property
    def lecture_ids(self) -> list[int]:
        return [int(lec.pk) for lec in self.lectures]

    @property
    def single_lecture(self) -> bool:
        return self.lecture is not None

    def query(self, **changes: Any) -> dict[str, str]:
        """The query parameters of this report, with ``changes`` (``None`` drops a key)."""
        params: dict[str, str] = {}
        if self.lecture is not None:
            params["lecture"] = str(self.lecture.pk)
        elif self.programme is not None:
            params["programme"] = str(self.programme.pk)
        params["unit"] = unit_param(self.unit)
        if self.view != "units":
            params["view"] = self.view
        if self.level:
            params["level"] = self.level
        if self.sort:
            params["sort"] = ("-" if self.descending else "") + self.sort
        if self.page != 1:
            params["page"] = str(self.page)
        if self.extras:
            params["extra"] = ",".join(self.extras)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = str(value)
        return params


def unit_sort_keys(extras: Sequence[str]) -> frozenset[str]:
    """The units view's sortable columns, with those of the requested extra groups."""
    keys = set(UNIT_SORT_KEYS)
    for key in extras:
        extra = report_extra_get(key)
        if extra is not None:
            keys.update(c.key for c in extra.columns)
    return frozenset(keys)


def scope_require(*, user: User) -> Scope:
    """The caller's report scope; ``PermissionDenied`` for a user who may read no report
    (every report page, export and chart asks here)."""
    scope = scope_for(user=user, capability=Capability.READ_REPORTS)
    if scope.is_empty:
        raise PermissionDenied(_("Attendance reports are for party-school and organisation staff."))
    return scope


def unit_param(unit: OrgUnit) -> str:
    return unit.code or f"pk:{unit.pk}"


def _one(params: Mapping[str, Any], name: str) -> str:
    """A single query value ('' when absent); a repeated parameter is an error."""
    getlist = getattr(params, "getlist", None)
    values = getlist(name) if getlist is not None else [params[name]] if name in params else []
    if len(values) > 1:
        raise ReportError(ReportErrorCode.REPEATED_PARAMETER)
    return str(values[0]).strip() if values else ""


def report_request_parse(
    *,
    user: User,
    params: Mapping[str, Any],
    formats: Sequence[str] = ("html", "csv", "xlsx"),
) -> ReportRequest:
    """Check and resolve the report parameters for ``user``.

    Raises ``ReportError`` (400) for malformed values, ``Http404`` for an unknown lecture,
    programme or unit, ``PermissionDenied`` for a unit outside the user's scope (or a user
    without the report capability).
    """
    raw = {
        name: _one(params, name)
        for name in (
            "lecture",
            "programme",
            "unit",
            "format",
            "sort",
            "level",
            "view",
            "page",
            "extra",
        )
    }
    # 1. Syntax: nothing reaches the database before it has the expected shape.
    if raw["lecture"] and not _ID.match(raw["lecture"]):
        raise ReportError(ReportErrorCode.INVALID_LECTURE)
    if raw["programme"] and not _ID.match(raw["programme"]):
        raise ReportError(ReportErrorCode.INVALID_PROGRAMME)
    if raw["unit"] and not _UNIT.match(raw["unit"]):
        raise ReportError(ReportErrorCode.INVALID_UNIT)
    fmt = raw["format"] or "html"
    if fmt not in formats:
        raise ReportError(ReportErrorCode.INVALID_FORMAT)
    view = raw["view"] or "units"
    if view not in VIEWS:
        raise ReportError(ReportErrorCode.INVALID_VIEW)
    extras = tuple(dict.fromkeys(k for k in raw["extra"].split(",") if k))
    if any(report_extra_get(k) is None for k in extras):
        raise ReportError(ReportErrorCode.INVALID_CHOICE)
    sort, descending = raw["sort"].removeprefix("-"), raw["sort"].startswith("-")
    allowed = CADRE_SORT_KEYS if view == "cadres" else unit_sort_keys(extras)
    if raw["sort"] and (not _SORT.match(raw["sort"]) or sort not in allowed):
        raise ReportError(ReportErrorCode.INVALID_SORT)
    if raw["level"] and raw["level"] not in OrgUnit.TERRITORIAL:
        raise ReportError(ReportErrorCode.INVALID_LEVEL)
    page = 1
    if raw["page"]:
        if not _ID.match(raw["page"]) or int(raw["page"]) < 1:
            raise ReportError(ReportErrorCode.INVALID_PAGE)
        page = int(raw["page"])

    # 2. Scope: who may read reports, and over which subtree.
    scope = scope_require(user=user)
    if raw["unit"]:
        unit = unit_get_in_scope(user=user, capability=Capability.READ_REPORTS, code=raw["unit"])
    else:
        roots = scope.roots()
        if not roots:
            raise Http404(_("No such unit."))
        unit = roots[0]
    root = _scope_root(scope, unit)

    # 3. What to report on.
    lecture: Lecture | None = None
    programme: Programme | None = None
    if raw["lecture"]:
        lecture = _lecture_get(int(raw["lecture"]))
        programme = lecture.programme
        if raw["programme"] and int(raw["programme"]) != programme.pk:
            raise ReportError(ReportErrorCode.LECTURE_NOT_IN_PROGRAMME)
    elif raw["programme"]:
        programme = _programme_get(int(raw["programme"]))
    else:
        lecture = _default_lecture(scope)
        programme = lecture.programme if lecture is not None else None

    if programme is not None and not report_programme_visible(scope=scope, programme=programme):
        raise Http404(_("No such programme."))

    if raw["level"]:
        depth = OrgUnit.TERRITORIAL.index(raw["level"])
        if unit.kind not in OrgUnit.TERRITORIAL or depth <= OrgUnit.TERRITORIAL.index(unit.kind):
            raise ReportError(ReportErrorCode.INVALID_LEVEL)

    if lecture is not None:
        lectures: tuple[Lecture, ...] = (lecture,)
    elif programme is not None:
        lectures = tuple(lectures_counted(programme=programme))
    else:
        lectures = ()
    return ReportRequest(
        user=user,
        scope=scope,
        root=root,
        unit=unit,
        programme=programme,
        lecture=lecture,
        lectures=lectures,
        view="cadres" if view == "cadres" or unit.numchild == 0 else "units",
        level=raw["level"] if view == "units" else "",
        sort=sort,
        descending=descending,
        page=page,
        fmt=fmt,
        extras=extras,
    )


def _scope_root(scope: Scope, unit: OrgUnit) -> OrgUnit:
    """The top of the viewer's area above ``unit`` (the breadcrumb never goes higher)."""
    if scope.everything:
        root_path = unit.path[: OrgUnit.steplen]
    else:
        root_path = min((p for p in scope.paths if unit.path.startswith(p)), key=len)
    if root_path == unit.path:
        return unit
    return OrgUnit.objects.get(path=root_path)


def _lecture_get(lecture_id: int) -> Lecture:
    try:
        return Lecture.objects.select_related("programme").get(pk=lecture_id)
    except Lecture.DoesNotExist as exc:
        raise Http404(_("No such lecture.")) from exc


def _programme_get(programme_id: int) -> Programme:
    try:
        return Programme.objects.get(pk=programme_id)
    except Programme.DoesNotExist as exc:
        raise Http404(_("No such programme.")) from exc


def _started_q() -> Q:
    return lecture_status_q(Lecture.Status.LIVE) | lecture_status_q(Lecture.Status.ENDED)


def lectures_counted(*, programme: Programme) -> list[Lecture]:
    """The programme's lectures that have started, in order (a programme report's ``n``)."""
    return list(
        Lecture.objects.filter(_started_q(), programme=programme)
        .select_related("programme")
        .order_by("sequence", "pk")
    )


def _default_lecture(scope: Scope) -> Lecture | None:
    """The most recent started lecture of the first programme in the viewer's area."""
    programmes = report_programmes(scope=scope)
    if not programmes:
        return None
    return (
        Lecture.objects.filter(_started_q(), programme=programmes[0])
        .select_related("programme")
        .order_by("-starts_at", "-pk")
        .first()
    )


def _audience_overlaps(scope: Scope, programme: Programme) -> bool:
    return any(
        scope.contains(unit) or any(p.startswith(unit.path) for p in scope.paths)
        for unit in programme.audience.all()
    )


def report_programmes(*, scope: Scope) -> list[Programme]:
    """Programmes whose audience overlaps the scope (inside it or above it)."""
    qs = Programme.objects.prefetch_related("lectures").order_by("-created_at")
    if scope.everything:
        return list(qs)
    return [p for p in qs.prefetch_related("audience") if _audience_overlaps(scope, p)]


def report_programme_current(*, programmes: Sequence[Programme]) -> Programme | None:
    """The programme a page opens on when none is named, of ``report_programmes`` (newest
    first, lectures prefetched: no query here): the newest with a started lecture, else
    the newest."""
    started = (Lecture.Status.LIVE, Lecture.Status.ENDED)
    running = (p for p in programmes if any(lec.status in started for lec in p.lectures.all()))
    return next(running, programmes[0] if programmes else None)


def report_programme_visible(*, scope: Scope, programme: Programme) -> bool:
    """May a report over ``scope`` name this programme (is it one of ``report_programmes``)?
    Reports of other programmes are refused as unknown, so their titles do not leak."""
    return scope.everything or _audience_overlaps(scope, programme)
