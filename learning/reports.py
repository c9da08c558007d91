"""The learning record's columns in the attendance report (``?extra=learning``): per unit,
the share of its cadres' test attempts that passed (随堂测验通过率) and the share of its
ratings that were satisfied or better (评课满意度). Registered with ``courses.reports.extra``.

One query per figure over the report's subtree, rolled up the tree by path (like the
discussion's columns); a unit with no attempts or ratings shows no rate, not 0."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy

from courses.reports.columns import Column, Kind
from courses.reports.extra import ExtraColumns, ExtraQuery, report_extra_register
from learning.models import INDICATORS, Evaluation, QuizAttempt, Rating
from portal.models import OrgUnit

COLUMNS = (
    Column(
        "test_pass_rate",
        gettext_lazy("Test pass rate"),
        Kind.RATE,
        gettext_lazy("Cadres who passed the lecture's test, of those who took it"),
    ),
    Column(
        "satisfaction",
        gettext_lazy("Satisfaction"),
        Kind.RATE,
        gettext_lazy("Ratings of 满意 or 非常满意, over the five indicators"),
    ),
)


def _roll_up(query: ExtraQuery, rows: Any, figures: dict[int, list[int]]) -> None:
    by_path = {u.path: u.pk for u in query.units}
    step = OrgUnit.steplen
    for path, good, total in rows:
        for end in range(step, len(path) + 1, step):
            unit_id = by_path.get(path[:end])
            if unit_id is not None:
                figures[unit_id][0] += int(good)
                figures[unit_id][1] += int(total)


def learning_figures(query: ExtraQuery) -> dict[int, dict[str, Any]]:
    root = query.units[0]
    lectures = list(query.lecture_ids)
    tests: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    # a cadre counts once per lecture: passed if any attempt passed
    takers = (
        QuizAttempt.objects.filter(
            quiz__lecture_id__in=lectures,
            submitted_at__isnull=False,
            user__unit__path__startswith=root.path,
        )
        .values("user__unit__path", "user_id", "quiz_id")
        .annotate(ok=Count("pk", filter=Q(passed=True)))
        .order_by()
    )
    per_path: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in takers.iterator(chunk_size=5000):
        per_path[row["user__unit__path"]][0] += int(row["ok"] > 0)
        per_path[row["user__unit__path"]][1] += 1
    _roll_up(query, ((p, v[0], v[1]) for p, v in per_path.items()), tests)
    ratings: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = (
        Evaluation.objects.filter(lecture_id__in=lectures, user__unit__path__startswith=root.path)
        .values("user__unit__path")
        .annotate(
            n=Count("pk"),
            **{
                f"ok_{key}": Count("pk", filter=Q(**{f"{key}__gte": Rating.SATISFIED}))
                for key, _label in INDICATORS
            },
        )
        .order_by()
    )
    data: list[dict[str, Any]] = [dict(r) for r in rows]
    _roll_up(
        query,
        (
            (
                r["user__unit__path"],
                sum(r[f"ok_{key}"] for key, _l in INDICATORS),
                r["n"] * len(INDICATORS),
            )
            for r in data
        ),
        ratings,
    )

    def rate(pair: list[int]) -> Decimal | None:
        return Decimal(pair[0]) / pair[1] if pair[1] else None

    return {
        u.pk: {"test_pass_rate": rate(tests[u.pk]), "satisfaction": rate(ratings[u.pk])}
        for u in query.units
    }


def register() -> None:
    report_extra_register(
        ExtraColumns(
            key="learning",
            label=gettext_lazy("test and rating figures"),
            columns=COLUMNS,
            values=learning_figures,
        )
    )
