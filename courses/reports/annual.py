"""Annual 学时 totals (issue 18 §4): each cadre's study hours in a calendar year across
programmes, against the annual target (STUDY_HOURS_ANNUAL_TARGET, 50 by default: the
national plan's ≥ 50 学时 of online study a year).

One definition for the cadre's own record, the staff page, its exports and the
``study_hours`` command: a lecture counts in the year of its start (local time); it earns its
学时 (the programme's rule, ``courses.attendance.rules``) when completed, the newest
correction winning. Cadres with nothing yet are listed with 0: they are the follow-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
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
from django.db.models.functions import Coalesce, Least
from django.utils.translation import gettext as _

from courses.models import DEFAULT_TEST_BONUS, Attendance
from courses.reports.followups import STREAM_CHUNK, USER_VALUES, UnitNames, display_name
from courses.summaries.sync import completed_effective
from portal.models import OrgUnit, User, mask_phone

YEAR_MIN, YEAR_MAX = 2000, 2100
HOURS = DecimalField(max_digits=8, decimal_places=2)


def annual_target() -> Decimal:
    return Decimal(str(settings.STUDY_HOURS_ANNUAL_TARGET))


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The calendar year in the portal's time zone (a 23:30 lecture on 31 December counts
    in that year, wherever the server runs)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)


def _year_rows(year: int) -> QuerySet[Attendance]:
    start, end = year_bounds(year)
    return Attendance.objects.filter(
        lecture__starts_at__gte=start, lecture__starts_at__lt=end
    ).annotate(done_=completed_effective())


def credit_expression() -> Least:
    """``credit_with_bonus`` in SQL over an ``Attendance`` row annotated with ``done_``:
    the lecture's 学时 when completed, plus the programme rule's test bonus when passed,
    within its cap (no rule row: the rule's defaults)."""
    rule = "lecture__programme__study_hour_rule__"
    zero = Value(Decimal("0"), output_field=HOURS)
    base = Case(When(done_=True, then=F("lecture__credit_hours")), default=zero, output_field=HOURS)
    bonus = Case(
        When(
            test_passed_at__isnull=False,
            then=Coalesce(
                F(f"{rule}test_bonus_hours"), Value(DEFAULT_TEST_BONUS), output_field=HOURS
            ),
        ),
        default=zero,
        output_field=HOURS,
    )
    cap = Coalesce(F(f"{rule}cap_hours"), Value(Decimal("999")), output_field=HOURS)
    return Least(ExpressionWrapper(base + bonus, output_field=HOURS), cap, output_field=HOURS)


def _per_user(rows: QuerySet[Attendance], value: Any, field: Any) -> Subquery:
    return Subquery(
        rows.filter(user_id=OuterRef("pk"))
        .order_by()
        .values("user_id")
        .annotate(v=value)
        .values("v"),
        output_field=field,
    )


def annual_queryset(*, unit: OrgUnit, year: int, below_only: bool = False) -> QuerySet[User]:
    """The active users of ``unit``'s subtree, annotated with ``ah_hours`` (学时 of the year)
    and ``ah_lectures`` (lectures completed), ordered by (unit path, id)."""
    rows = _year_rows(year)
    earned = Sum(credit_expression(), output_field=HOURS)
    done = Count("pk", filter=Q(done_=True))
    users = (
        User.objects.filter(unit__path__startswith=unit.path, is_active=True)
        .annotate(
            ah_hours=Coalesce(
                _per_user(rows, earned, HOURS), Value(Decimal("0")), output_field=HOURS
            ),
            ah_lectures=Coalesce(
                _per_user(rows, done, IntegerField()), Value(0), output_field=IntegerField()
            ),
        )
        .order_by("unit__path", "pk")
    )
    if below_only:
        users = users.filter(ah_hours__lt=annual_target())
    return users


@dataclass(frozen=True)
class AnnualSummary:
    cadres: int
    reached: int
    hours: Decimal

    @property
    def below(self) -> int:
        return self.cadres - self.reached

    @property
    def average(self) -> Decimal:
        return (self.hours / self.cadres).quantize(Decimal("0.1")) if self.cadres else Decimal("0")


def annual_summary(*, unit: OrgUnit, year: int) -> AnnualSummary:
    figures = annual_queryset(unit=unit, year=year).aggregate(
        cadres=Count("pk"),
        reached=Count("pk", filter=Q(ah_hours__gte=annual_target())),
        hours=Sum("ah_hours"),
    )
    return AnnualSummary(
        cadres=int(figures["cadres"] or 0),
        reached=int(figures["reached"] or 0),
        hours=Decimal(figures["hours"] or 0),
    )


@dataclass(frozen=True)
class AnnualRow:
    user_id: int
    name: str
    unit_chain: str
    job_title: str
    phone: str
    lectures: int
    hours: Decimal
    reached: bool


def _rows(names: UnitNames, values: list[tuple[Any, ...]], target: Decimal) -> Iterator[AnnualRow]:
    names.load(v[-3] for v in values)
    for pk, full, first, last, username, job, phone, path, hours, lectures in values:
        yield AnnualRow(
            user_id=pk,
            name=display_name(full, first, last, username),
            unit_chain=names.chain(path),
            job_title=job,
            phone=mask_phone(phone),
            lectures=int(lectures),
            hours=Decimal(hours),
            reached=Decimal(hours) >= target,
        )


def annual_rows(
    *, unit: OrgUnit, year: int, below_only: bool = False, limit: int | None = None
) -> Iterator[AnnualRow]:
    """The rows in order through a server-side cursor (lazy), or the first ``limit``."""
    target, names = annual_target(), UnitNames(unit)
    qs = annual_queryset(unit=unit, year=year, below_only=below_only).values_list(
        *USER_VALUES, "unit__path", "ah_hours", "ah_lectures"
    )
    if limit is not None:
        return _rows(names, list(qs[:limit]), target)

    def generate() -> Iterator[AnnualRow]:
        batch: list[tuple[Any, ...]] = []
        for value in qs.iterator(chunk_size=STREAM_CHUNK):
            batch.append(value)
            if len(batch) >= STREAM_CHUNK:
                yield from _rows(names, batch, target)
                batch = []
        if batch:
            yield from _rows(names, batch, target)

    return generate()


def annual_headers() -> list[str]:
    return [
        _("Name"),
        _("Unit"),
        _("Position"),
        _("Mobile phone"),
        _("Lectures completed"),
        _("Study hours"),
        _("Annual target"),
        _("Status"),
    ]


class AnnualCells:
    """Row cells, the status texts translated once (an export streams on after the view)."""

    def __init__(self) -> None:
        self.target = annual_target()
        self.reached = _("Target reached")
        self.short = _("%(hours)s short")

    def __call__(self, row: AnnualRow) -> tuple[Any, ...]:
        status = self.reached if row.reached else self.short % {"hours": self.target - row.hours}
        return (
            row.name,
            row.unit_chain,
            row.job_title,
            row.phone,
            row.lectures,
            row.hours,
            self.target,
            status,
        )
