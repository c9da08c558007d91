"""The discussion's columns in the attendance report (``?extra=discussion``): posts and
participants per unit, from ``UnitActivity`` (kept at post time), rolled up the tree by
path. Registered with ``courses.reports.extra`` when the app starts."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from courses.reports.columns import Column, Kind
from courses.reports.extra import ExtraColumns, ExtraQuery, report_extra_register
from discussion.models import Space, UnitActivity
from portal.models import OrgUnit

COLUMNS = (
    Column(
        "discussion_posts",
        gettext_lazy("Posts"),
        Kind.INT,
        gettext_lazy("Posts in the lectures' discussion spaces"),
    ),
    Column(
        "discussion_participants",
        gettext_lazy("Participants"),
        Kind.INT,
        gettext_lazy("People who posted, counted once per lecture"),
    ),
)


def discussion_figures(query: ExtraQuery) -> dict[int, dict[str, Any]]:
    """Each unit's subtree: its posts and participants in the lectures' spaces (one query
    over the summary rows inside the report's unit)."""
    root = query.units[0]
    by_path = {u.path: u.pk for u in query.units}
    figures: dict[int, dict[str, Any]] = {
        u.pk: {"discussion_posts": 0, "discussion_participants": 0} for u in query.units
    }
    rows = UnitActivity.objects.filter(
        space__in=Space.objects.filter(lecture_id__in=list(query.lecture_ids)),
        unit__path__startswith=root.path,
    ).values_list("unit__path", "posts", "participants")
    step = OrgUnit.steplen
    for path, posts, participants in rows.iterator(chunk_size=5000):
        for end in range(step, len(path) + 1, step):  # every ancestor that is a row
            unit_id = by_path.get(path[:end])
            if unit_id is not None:
                figures[unit_id]["discussion_posts"] += posts
                figures[unit_id]["discussion_participants"] += participants
    return figures


def register() -> None:
    report_extra_register(
        ExtraColumns(
            key="discussion",
            label=gettext_lazy("discussion figures"),
            columns=COLUMNS,
            values=discussion_figures,
        )
    )
