"""The live figures of a lecture for its organisers (实时大屏): read once per tick by one
process and published to the lecture's moderators (``livestream.hub``); no viewer ever
causes a database read for them.

* viewers now and over time: live presence; one point per LIVE_SERIES_INTERVAL_SECONDS in
  the shared store (``series_add``), so every process and a reopened page see one line;
* viewers, venue check-ins and attendees by city: each process counts its own sockets by
  the viewer's top-level unit (the child of the tree's root the viewer's unit lies in: a
  city, or a provincial body) and stores those counts beside its presence; check-ins and
  attendees come from the per-unit summary tables (``courses.summaries``);
* the questions waiting for a moderator: a count and the oldest few.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from django.conf import settings
from django.db.models import Count, Window
from django.utils import timezone

from courses.models import Lecture
from courses.summaries.totals import summary_totals
from livestream import broadcast
from livestream.events import LectureStats, UnitStats, WaitingQuestion, iso
from livestream.models import Question
from livestream.store import store_get
from portal.models import OrgUnit
from portal.process_state import process_state_reset

logger = logging.getLogger(__name__)

WAITING_SHOWN = 5  # the oldest questions waiting, on the big screen
_GROUPS_TTL = 600.0  # units rarely move; a moved unit's viewers follow within minutes

_lock = threading.Lock()
_groups: dict[int, int] = {}  # unit id → the id of its top-level unit
_groups_loaded_at = 0.0
_tree_top: tuple[float, list[int], list[TopUnit]] | None = None  # (loaded at, roots, rows)


class TopUnit(NamedTuple):
    pk: int
    name: str
    kind: str


@process_state_reset
def _groups_forget() -> None:
    global _groups_loaded_at, _tree_top
    with _lock:
        _groups.clear()
        _groups_loaded_at = 0.0
        _tree_top = None


def unit_groups(*, unit_ids: Iterable[int]) -> dict[int, int]:
    """Each unit's top-level unit (the child of its root; a root maps to itself), cached
    per process: one query per tick at most, for units not seen before."""
    global _groups_loaded_at
    wanted = set(unit_ids)
    with _lock:
        if time.monotonic() - _groups_loaded_at > _GROUPS_TTL:
            _groups.clear()
            _groups_loaded_at = time.monotonic()
        missing = wanted - _groups.keys()
    if missing:
        step = OrgUnit.steplen
        paths = dict(OrgUnit.objects.filter(pk__in=missing).values_list("pk", "path"))
        tops = {pk: path[: 2 * step] if len(path) > step else path for pk, path in paths.items()}
        top_ids = dict(
            OrgUnit.objects.filter(path__in=set(tops.values())).values_list("path", "pk")
        )
        with _lock:
            for pk, top in tops.items():
                _groups[pk] = top_ids[top]
    with _lock:
        return {u: _groups[u] for u in wanted if u in _groups}


def unit_cities(*, unit_ids: Iterable[int]) -> dict[int, str]:
    """Each unit's top-level unit's name (its city, or a provincial body), from the caches
    above: the moderators' "by city" filter."""
    groups = unit_groups(unit_ids=unit_ids)
    _roots, tops = _top_units()
    names = {top.pk: top.name for top in tops}
    return {unit: names[top] for unit, top in groups.items() if top in names}


def viewers_by_group(*, user_units: Mapping[int, int | None]) -> dict[int, int]:
    """This process's viewers (user id → unit id) counted by top-level unit."""
    groups = unit_groups(unit_ids={u for u in user_units.values() if u is not None})
    counts: Counter[int] = Counter()
    for unit_id in user_units.values():
        if unit_id is not None and unit_id in groups:
            counts[groups[unit_id]] += 1
    return dict(counts)


def lecture_series_add(*, lecture_id: int, viewers: int) -> None:
    """One point of the viewers line, at most one per LIVE_SERIES_INTERVAL_SECONDS across
    all processes (the caller is the tick that just counted them)."""
    interval = float(settings.LIVE_SERIES_INTERVAL_SECONDS)
    store = store_get()
    if store.gate(key=f"series:{lecture_id}", seconds=interval):
        store.series_add(lecture_id=lecture_id, at=time.time(), value=viewers)


def _top_units() -> tuple[list[int], list[TopUnit]]:
    """The tree's roots, and the rows of the big screen: the roots' children (the cities
    and the provincial bodies), or the roots themselves in a one-level tree. Cached per
    process like ``unit_groups``."""
    global _tree_top
    with _lock:
        cached = _tree_top
    if cached is not None and time.monotonic() - cached[0] <= _GROUPS_TTL:
        return cached[1], cached[2]
    rows = list(
        OrgUnit.objects.filter(depth__lte=2)
        .order_by("path")
        .values_list("pk", "name", "kind", "depth")
    )
    roots = [pk for pk, _n, _k, depth in rows if depth == 1]
    tops = [TopUnit(pk, name, kind) for pk, name, kind, depth in rows if depth == 2] or [
        TopUnit(pk, name, kind) for pk, name, kind, depth in rows if depth == 1
    ]
    with _lock:
        _tree_top = (time.monotonic(), roots, tops)
    return roots, tops


def lecture_stats_get(*, lecture: Lecture) -> LectureStats:
    """The dashboard figures. Cumulative figures follow the heartbeat buffer's flush
    (ATTENDANCE_FLUSH_SECONDS) and check-ins; viewers are live presence."""
    store = store_get()
    roots, tops = _top_units()
    totals = summary_totals(
        unit_ids=[*roots, *(u.pk for u in tops if u.pk not in roots)],
        lecture_ids=[lecture.pk],
        programme_id=lecture.programme_id,
    )
    overall = [totals[r] for r in roots]
    live = store.presence_by_unit(lecture_id=lecture.pk)
    units: list[UnitStats] = [
        {
            "id": u.pk,
            "name": u.name,
            "viewers": live.get(u.pk, 0),
            "checked_in": totals[u.pk].in_person,
            "attendees": totals[u.pk].attended,
        }
        for u in tops
    ]
    # every city; a provincial body (a bureau, the party school) only when it has figures
    kinds = {u.pk: u.kind for u in tops}
    units = [
        u
        for u in units
        if kinds[u["id"]] in OrgUnit.TERRITORIAL
        or u["viewers"]
        or u["checked_in"]
        or u["attendees"]
    ]
    # the oldest few waiting and, on each row, how many wait in all: one query
    oldest = list(
        Question.objects.filter(lecture_id=lecture.pk, status=Question.Status.PENDING)
        .annotate(waiting_=Window(Count("pk")))
        .order_by("created_at", "pk")
        .values_list("pk", "text", "flagged", "waiting_")[:WAITING_SHOWN]
    )
    waiting: list[WaitingQuestion] = [
        {"id": pk, "text": text, "flagged": flagged} for pk, text, flagged, _n in oldest
    ]
    return {
        "viewers": store.presence_total(lecture_id=lecture.pk),
        "checked_in": sum(t.in_person for t in overall),
        "attendees": sum(t.attended for t in overall),
        "online": sum(t.online_live for t in overall),
        "completed": sum(t.completed for t in overall),
        "enrolled": sum(t.enrolled for t in overall),
        "questions_waiting": oldest[0][3] if oldest else 0,
        "waiting": waiting,
        "units": units,
        "series": [[at, value] for at, value in store.series_get(lecture_id=lecture.pk)],
        "at": iso(timezone.now()) or "",
    }


def lecture_stats_send(*, lecture_id: int) -> None:
    """Publish the figures to the lecture's moderators (the hub's tick calls this)."""
    try:
        lecture = Lecture.objects.filter(pk=lecture_id).only("pk", "programme_id").first()
        if lecture is not None:
            broadcast.lecture_stats(lecture_id=lecture_id, stats=lecture_stats_get(lecture=lecture))
    except Exception:  # a missed update, never a broken tick
        logger.exception("live: dashboard figures failed (lecture %s)", lecture_id)
