"""The reports home's key figures: one programme seen from the viewer's area.

Everything comes from the summaries (a few indexed reads, as the report itself) except the
follow-up counts, which are the lists' own counting queries over the viewer's subtree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from courses.models import Programme
from courses.reports.attendance import TrendPoint, programme_trend, report_values
from courses.reports.followups import FollowUpKind, FollowUpQuery, followup_count
from courses.reports.request import ReportRequest, report_request_parse, unit_param
from courses.summaries.totals import summary_totals
from portal.models import OrgUnit, User


@dataclass(frozen=True)
class HomeFigures:
    programme: Programme
    unit: OrgUnit
    headcount: int
    enrolled: int
    enrolment_rate: Decimal | None
    attendance_rate: Decimal | None
    completion_rate: Decimal | None
    lectures_counted: int
    trend: list[TrendPoint]
    followups: dict[str, int]  # FollowUpKind value → cadres to follow up
    request: ReportRequest

    @property
    def unit_code(self) -> str:
        return unit_param(self.unit)

    @property
    def shown(self) -> dict[str, str]:
        """The rates as the page shows them (one decimal, or a dash without a base)."""
        return {
            "enrolment_rate": percent(self.enrolment_rate),
            "attendance_rate": percent(self.attendance_rate),
            "completion_rate": percent(self.completion_rate),
        }

    @property
    def trend_shown(self) -> list[tuple[int, str, str]]:
        """(lecture number, attendance rate, completion rate) for the small trend table."""
        return [
            (p.lecture.sequence, percent(p.attendance_rate), percent(p.completion_rate))
            for p in self.trend
        ]


def percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{(value * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def reports_home_figures(*, user: User, programme: Programme) -> HomeFigures:
    """The figures of ``programme`` for the viewer's area (their scope's first root)."""
    request = report_request_parse(user=user, params={"programme": str(programme.pk)})
    unit_totals = summary_totals(
        unit_ids=[request.unit.pk], lecture_ids=request.lecture_ids, programme_id=programme.pk
    )[request.unit.pk]
    total = report_values(unit_totals, len(request.lectures), request.unit.name)
    started = tuple(int(pk) for pk in request.lecture_ids)
    followups = {
        kind.value: followup_count(
            query=FollowUpQuery(
                unit=request.unit, programme=programme, lecture=None, kind=kind, started=started
            )
        )
        for kind in FollowUpKind
    }
    return HomeFigures(
        programme=programme,
        unit=request.unit,
        headcount=int(total["headcount"]),
        enrolled=int(total["enrolled"]),
        enrolment_rate=total["enrolment_rate"],
        attendance_rate=total["attendance_rate"],
        completion_rate=total["completion_rate"],
        lectures_counted=len(request.lectures),
        trend=programme_trend(request=request),
        followups=followups,
        request=request,
    )
