"""The live figures of a lecture for its organisers (实时大屏): read once per tick by one
process and published to the lecture's moderators (``livestream.hub``); no viewer ever
causes a database read for them."""

from __future__ import annotations

import logging

from django.utils import timezone

from courses.models import Lecture
from courses.summaries.totals import summary_totals
from livestream import broadcast
from livestream.events import LectureStats, iso
from livestream.store import store_get
from portal.models import OrgUnit

logger = logging.getLogger(__name__)


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
