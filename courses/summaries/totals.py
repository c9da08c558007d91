"""Read side of the summaries: headcounts per subtree (memoised per process) and the
totals of a report row."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum

from courses.models import LectureUnitSummary, ProgrammeUnitSummary
from courses.summaries.rebuild import _rollup
from courses.summaries.sync import _HEADCOUNT_VERSION_KEY, _chunks
from portal.models import User
from portal.process_state import process_state_reset

# Read side
# ---------------------------------------------------------------------------------------

_headcount_lock = threading.Lock()
_headcount_memo: tuple[float, str, dict[int, int]] | None = None


@process_state_reset
def headcounts_forget() -> None:
    """Drop this process's memo (the version bump of ``headcounts_changed`` reaches all)."""
    global _headcount_memo
    _headcount_memo = None


def headcounts() -> dict[int, int]:
    """Cadres (users with a unit) in each unit's subtree, by unit id; memoised per process
    for ``REPORT_HEADCOUNT_SECONDS`` or until ``headcounts_changed``."""
    global _headcount_memo
    version = str(cache.get(_HEADCOUNT_VERSION_KEY, "0"))
    memo = _headcount_memo
    ttl = float(settings.REPORT_HEADCOUNT_SECONDS)
    if memo is not None and memo[1] == version and time.monotonic() - memo[0] < ttl:
        return memo[2]
    with _headcount_lock:
        own = {
            (0, unit): [n]
            for unit, n in User.objects.filter(unit__isnull=False)
            .values("unit_id")
            .annotate(n=Count("pk"))
            .values_list("unit_id", "n")
            .order_by()
        }
        table = {unit: v[0] for (_k, unit), v in _rollup(own).items()}
        _headcount_memo = (time.monotonic(), version, table)
    return table


@dataclass
class Totals:
    """One report row's counts (a unit's subtree; one lecture or the sum of several)."""

    headcount: int = 0
    enrolled: int = 0
    attended: int = 0
    in_person: int = 0
    online_live: int = 0
    replay: int = 0
    completed: int = 0
    seconds: int = 0
    credit_hours: Decimal = field(default_factory=lambda: Decimal("0"))

    def add(self, other: Totals) -> None:
        for name in (
            "headcount",
            "enrolled",
            "attended",
            "in_person",
            "online_live",
            "replay",
            "completed",
            "seconds",
            "credit_hours",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def summary_totals(
    *, unit_ids: Sequence[int], lecture_ids: Sequence[int], programme_id: int
) -> dict[int, Totals]:
    """Totals per unit (subtree) over ``lecture_ids``, with the programme's enrolments and
    the headcount: a few indexed reads of the summary tables, O(units × lectures)."""
    ids = list(unit_ids)
    counts = headcounts()
    out = {u: Totals(headcount=counts.get(u, 0)) for u in ids}
    hours = ExpressionWrapper(
        F("completed") * F("lecture__credit_hours"),
        output_field=DecimalField(max_digits=14, decimal_places=1),
    )
    for chunk in _chunks(ids):
        rows = (
            LectureUnitSummary.objects.filter(unit_id__in=chunk, lecture_id__in=list(lecture_ids))
            .values("unit_id")
            .annotate(
                attended_=Sum("attended"),
                in_person_=Sum("in_person"),
                online_live_=Sum("online_live"),
                replay_=Sum("replay"),
                completed_=Sum("completed"),
                seconds_=Sum("seconds"),
                hours_=Sum(hours),
            )
            .order_by()
        )
        for row in rows:
            t = out[row["unit_id"]]
            t.attended, t.in_person = int(row["attended_"]), int(row["in_person_"])
            t.online_live, t.replay = int(row["online_live_"]), int(row["replay_"])
            t.completed, t.seconds = int(row["completed_"]), int(row["seconds_"])
            t.credit_hours = Decimal(row["hours_"] or 0)
        for unit_id, enrolled in ProgrammeUnitSummary.objects.filter(
            programme_id=programme_id, unit_id__in=chunk
        ).values_list("unit_id", "enrolled"):
            out[unit_id].enrolled = int(enrolled)
    return out
