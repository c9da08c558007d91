"""The organisers' live dashboard of one lecture: viewers now, venue check-ins, cumulative
attendees (参训人次) and completions.

The page renders the current figures, then opens the room's websocket as a moderator and
updates from ``lecture.stats`` events. Those are sent by the hub's presence tick
(``hub.py``), piggybacking on the viewer-count coalescing: one process per lecture and
interval (LIVE_VIEWERS_INTERVAL_SECONDS) reads the figures once (a few indexed reads of the
per-unit summary tables, see ``courses.summaries.sync``) and publishes one event to the
lecture's moderators; no viewer ever causes a database read for it.
"""

from __future__ import annotations

import logging
from typing import TypedDict

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.models import Lecture
from courses.selectors import lecture_is_moderator
from courses.summaries.totals import summary_totals
from livestream import broadcast
from livestream.events import iso
from livestream.selectors import RoomAccess, lecture_get_for_room
from livestream.store import store_get
from livestream.views import _context
from portal.http import request_user
from portal.models import OrgUnit

logger = logging.getLogger(__name__)


class LectureStats(TypedDict):
    viewers: int  # sockets' distinct users in the room now (all processes)
    checked_in: int  # venue check-ins (集中收看)
    attendees: int  # cadres with any attendance: live, replay or in person (参训人次)
    online: int  # of which watched live online
    completed: int  # corrections applied
    enrolled: int
    at: str


def lecture_stats_get(*, lecture: Lecture) -> LectureStats:
    """The dashboard figures. Cumulative figures follow the heartbeat buffer's flush
    (ATTENDANCE_FLUSH_SECONDS) and check-ins; ``viewers`` is live presence."""
    roots = list(OrgUnit.get_root_nodes().values_list("pk", flat=True))
    totals = summary_totals(
        unit_ids=roots, lecture_ids=[lecture.pk], programme_id=lecture.programme_id
    ).values()
    return {
        "viewers": store_get().presence_total(lecture_id=lecture.pk),
        "checked_in": sum(t.in_person for t in totals),
        "attendees": sum(t.attended for t in totals),
        "online": sum(t.online_live for t in totals),
        "completed": sum(t.completed for t in totals),
        "enrolled": sum(t.enrolled for t in totals),
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


def _lecture_for_organiser(request: HttpRequest, lecture_id: int) -> RoomAccess:
    """Fetch the lecture and allow only its organisers and moderators (else 403)."""
    user = request_user(request)
    lecture = lecture_get_for_room(lecture_id=lecture_id)
    if lecture is None:
        raise Http404(_("No such lecture."))
    if not lecture_is_moderator(user=user, lecture=lecture):
        raise PermissionDenied(_("Only the lecture's organisers and moderators see its dashboard."))
    return RoomAccess(user=user, lecture=lecture, role="moderator")


@login_required
def dashboard(request: HttpRequest, lecture_id: int) -> HttpResponse:
    access = _lecture_for_organiser(request, lecture_id)
    stats = lecture_stats_get(lecture=access.lecture)
    context = _context(request, access, dashboard=True, stats=stats)
    context["stats"] = stats
    return render(request, "livestream/dashboard.html", context)
