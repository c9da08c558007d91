"""Follow-up lists (docs/reports.md): the cadres of a subtree who still need a nudge.

Definitions (also in docs/reports.md, "Follow-up lists and 通报"):

cadre
    Any user whose unit is the chosen unit or below it: the same people the report's
    headcount counts, so a list is exactly as long as the gap the report shows.
``not_enrolled``
    Cadres without an active enrolment in the programme (for a lecture: its programme).
``not_attended``, for a lecture
    Actively enrolled cadres with no attendance of the lecture in any mode (no live or
    replay seconds, no in-person check-in).
``not_completed``, for a lecture
    Actively enrolled cadres who have not completed the lecture: the newest organiser
    correction (``AttendanceOverride``) wins over the computed flag. Includes those who did
    not attend at all; the row says which.
``not_attended`` / ``not_completed``, for a programme
    Over the programme's *started* lectures (live or ended when the list is asked for):
    actively enrolled cadres who missed (did not complete) at least one of them; each row
    says how many, e.g. "2 of 5".

Lists are ordered by (unit path, user id): the subtree filter is a ``path LIKE 'prefix%'``
range scan on ``orgunit_path_prefix``, users are reached through their unit's index and
pages are cut by keyset (``after=<path>.<id>``), never by OFFSET. Exports stream the same
query through a server-side cursor, ``chunk_size`` rows at a time.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from courses.models import Attendance, Enrolment, Lecture, Programme
from courses.summaries.sync import attended_q, completed_effective
from portal.models import OrgUnit, User, mask_phone

PAGE_SIZE = 50
STREAM_CHUNK = 2000
CURSOR_RE = re.compile(r"^([0-9A-Z]{1,255})\.(\d{1,18})$")


class FollowUpKind(enum.StrEnum):
    NOT_ENROLLED = "not_enrolled"
    NOT_ATTENDED = "not_attended"
    NOT_COMPLETED = "not_completed"


@dataclass(frozen=True)
class FollowUpQuery:
    """What a list is about: a unit's subtree, a programme or one of its lectures, a kind."""

    unit: OrgUnit
    programme: Programme
    lecture: Lecture | None
    kind: FollowUpKind
    started: tuple[int, ...] = ()  # the programme's started lectures (programme lists)


@dataclass(frozen=True)
class FollowUpRow:
    user_id: int
    name: str
    unit_chain: str
    job_title: str
    phone: str  # masked
    detail: str
    cursor: str  # keyset position of this row


@dataclass
class FollowUpPage:
    rows: list[FollowUpRow]
    total: int
    next_cursor: str | None


def _completed_rows(rows: QuerySet[Attendance]) -> QuerySet[Attendance]:
    """``rows`` whose lecture counts as completed, the newest correction winning."""
    return rows.annotate(done_=completed_effective()).filter(done_=True)


def followup_queryset(*, query: FollowUpQuery) -> QuerySet[User]:
    """The users on the list, annotated with ``fu_hits`` (see ``_detail``), ordered by
    (unit path, id)."""
    users = User.objects.filter(unit__path__startswith=query.unit.path)
    enrolled = Enrolment.objects.filter(
        user_id=OuterRef("pk"), programme_id=query.programme.pk, status=Enrolment.Status.ACTIVE
    )
    if query.kind == FollowUpKind.NOT_ENROLLED:
        users = users.filter(~Exists(enrolled)).annotate(fu_hits=Value(0))
    elif query.lecture is not None:
        rows = Attendance.objects.filter(lecture_id=query.lecture.pk, user_id=OuterRef("pk"))
        attended = Exists(rows.filter(attended_q()))
        users = users.filter(Exists(enrolled))
        if query.kind == FollowUpKind.NOT_ATTENDED:
            users = users.filter(~attended).annotate(fu_hits=Value(0))
        else:
            users = users.filter(~Exists(_completed_rows(rows))).annotate(
                fu_hits=Case(When(attended, then=Value(1)), default=Value(0))
            )
    else:
        if not query.started:
            return User.objects.none().annotate(fu_hits=Value(0))
        rows = Attendance.objects.filter(lecture_id__in=query.started, user_id=OuterRef("pk"))
        good = (
            rows.filter(attended_q())
            if query.kind == FollowUpKind.NOT_ATTENDED
            else _completed_rows(rows)
        )
        hits = Subquery(
            good.order_by().values("user_id").annotate(n=Count("pk")).values("n"),
            output_field=IntegerField(),
        )
        users = (
            users.filter(Exists(enrolled))
            .annotate(fu_hits=Coalesce(hits, Value(0), output_field=IntegerField()))
            .filter(fu_hits__lt=len(query.started))
        )
    return users.order_by("unit__path", "pk")


USER_VALUES = ("pk", "full_name", "first_name", "last_name", "username", "job_title", "phone")


def display_name(full: str, first: str, last: str, username: str) -> str:
    return full or f"{first} {last}".strip() or username


class UnitNames:
    """Names of the units on the way from the list's unit down to each cadre's unit, loaded
    as rows need them (memory grows with the units seen, never with the cadres)."""

    def __init__(self, base: OrgUnit) -> None:
        self.base = base
        self.names: dict[str, str] = {base.path: base.name}

    def load(self, paths: Iterable[str]) -> None:
        step = OrgUnit.steplen
        start = len(self.base.path) + step
        wanted = {p[:i] for p in paths for i in range(start, len(p) + 1, step)} - set(self.names)
        if wanted:
            self.names.update(
                OrgUnit.objects.filter(path__in=sorted(wanted)).values_list("path", "name")
            )

    def chain(self, path: str) -> str:
        step = OrgUnit.steplen
        parts = [
            self.names.get(path[:i], "?") for i in range(len(self.base.path), len(path) + 1, step)
        ]
        return " › ".join(parts)


class _Details:
    """The status column's text per row, translated once up front (an export keeps
    streaming after the view returned, outside the request's language)."""

    def __init__(self, query: FollowUpQuery) -> None:
        self.query = query
        self.total = len(query.started)
        if query.kind == FollowUpKind.NOT_ENROLLED:
            self.fixed: str | None = _("Not enrolled")
        elif query.lecture is not None and query.kind == FollowUpKind.NOT_ATTENDED:
            self.fixed = _("Not attended")
        else:
            self.fixed = None
        self.not_attended = _("Not attended")
        self.not_completed = _("Attended, not completed")
        self.missed = (
            _("Missed %(missed)d of %(total)d")
            if query.kind == FollowUpKind.NOT_ATTENDED
            else _("Not completed %(missed)d of %(total)d")
        )

    def text(self, hits: int) -> str:
        if self.fixed is not None:
            return self.fixed
        if self.query.lecture is not None:
            return self.not_completed if hits else self.not_attended
        return self.missed % {"missed": self.total - hits, "total": self.total}


def _rows(
    details: _Details, names: UnitNames, values: Sequence[tuple[Any, ...]]
) -> Iterator[FollowUpRow]:
    names.load(v[-2] for v in values)
    for pk, full, first, last, username, job, phone, path, hits in values:
        yield FollowUpRow(
            user_id=pk,
            name=display_name(full, first, last, username),
            unit_chain=names.chain(path),
            job_title=job,
            phone=mask_phone(phone),
            detail=details.text(int(hits)),
            cursor=f"{path}.{pk}",
        )


def cursor_valid(cursor: str) -> bool:
    return bool(CURSOR_RE.match(cursor))


def followup_page(
    *, query: FollowUpQuery, after: str = "", size: int | None = None
) -> FollowUpPage:
    """One page of the list (keyset: the rows after ``after``) and the list's length."""
    size = size or PAGE_SIZE
    qs = followup_queryset(query=query)
    total = qs.count()
    match = CURSOR_RE.match(after) if after else None
    if match:
        path, pk = match.group(1), int(match.group(2))
        qs = qs.filter(Q(unit__path__gt=path) | Q(unit__path=path, pk__gt=pk))
    values = list(qs.values_list(*USER_VALUES, "unit__path", "fu_hits")[: size + 1])
    rows = list(_rows(_Details(query), UnitNames(query.unit), values[:size]))
    next_cursor = rows[-1].cursor if len(values) > size and rows else None
    return FollowUpPage(rows=rows, total=total, next_cursor=next_cursor)


def followup_count(*, query: FollowUpQuery) -> int:
    return followup_queryset(query=query).count()


def followup_stream(
    *, query: FollowUpQuery, chunk_size: int = STREAM_CHUNK
) -> Iterator[FollowUpRow]:
    """Every row of the list through a server-side cursor, ``chunk_size`` at a time
    (lazy: nothing is read before the first row is asked for)."""
    details, names = _Details(query), UnitNames(query.unit)
    values = followup_queryset(query=query).values_list(*USER_VALUES, "unit__path", "fu_hits")

    def generate() -> Iterator[FollowUpRow]:
        batch: list[tuple[Any, ...]] = []
        for value in values.iterator(chunk_size=chunk_size):
            batch.append(value)
            if len(batch) >= chunk_size:
                yield from _rows(details, names, batch)
                batch = []
        if batch:
            yield from _rows(details, names, batch)

    return generate()


def followup_headers() -> list[str]:
    return [_("Name"), _("Unit"), _("Position"), _("Mobile phone"), _("Status")]


def followup_cells(row: FollowUpRow) -> tuple[str, ...]:
    return (row.name, row.unit_chain, row.job_title, row.phone, row.detail)
