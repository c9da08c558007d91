"""Optional column groups that apps above ``courses`` add to the units report (the
discussion's posts and participants), without ``courses`` importing them: the app
registers a group at start-up (``AppConfig.ready``); ``?extra=<key>`` shows it on the
page and in the exports. A group's figures come from its own summaries (one query per
report, O(units)), never from raw rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise

from courses.reports.columns import Column
from portal.models import OrgUnit


@dataclass(frozen=True)
class ExtraQuery:
    """What a group's figures are for: each unit's subtree, the lectures counted."""

    units: Sequence[OrgUnit]  # the report's unit first, then its rows' units
    lecture_ids: Sequence[int]
    programme_id: int


@dataclass(frozen=True)
class ExtraColumns:
    key: str
    label: Promise  # the toggle's text
    columns: tuple[Column, ...]
    # {unit id: {column key: value}} for every unit of the query (its whole subtree)
    values: Callable[[ExtraQuery], dict[int, dict[str, Any]]]


_REGISTRY: dict[str, ExtraColumns] = {}


def report_extra_register(extra: ExtraColumns) -> None:
    _REGISTRY[extra.key] = extra


def report_extras_available() -> list[ExtraColumns]:
    return list(_REGISTRY.values())


def report_extra_get(key: str) -> ExtraColumns | None:
    return _REGISTRY.get(key)
