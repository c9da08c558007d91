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

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from courses.selectors import lecture_is_moderator
from livestream.selectors import RoomAccess, lecture_get_for_room
from livestream.stats import lecture_stats_get
from livestream.views import _context
from portal.http import request_user


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
