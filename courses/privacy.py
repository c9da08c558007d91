"""What the courses hold about a person, for their download (registered with portal.privacy)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from courses.models import Attendance, Enrolment
from portal.models import User
from portal.privacy import personal_data_section


def _when(value: Any) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


@personal_data_section("enrolments")
def enrolments_section(user: User) -> list[dict[str, Any]]:
    rows = Enrolment.objects.filter(user=user).select_related("programme", "venue")
    return [
        {
            "programme": e.programme.title,
            "source": e.get_source_display(),
            "status": e.get_status_display(),
            "venue": e.venue.name if e.venue else None,
            "enrolled_at": _when(e.enrolled_at),
            "withdrawn_at": _when(e.withdrawn_at),
        }
        for e in rows.order_by("enrolled_at")
    ]


@personal_data_section("attendance")
def attendance_section(user: User) -> list[dict[str, Any]]:
    rows = Attendance.objects.filter(user=user).select_related("lecture", "venue")
    return [
        {
            "lecture": a.lecture.title,
            "live_seconds": a.live_seconds,
            "replay_seconds": a.replay_seconds,
            "first_seen_at": _when(a.first_seen_at),
            "last_seen_at": _when(a.last_seen_at),
            "checked_in_at": _when(a.checked_in_at),
            "venue": a.venue.name if a.venue else None,
            "completed": a.completed,
            "credit_hours": str(a.credit_hours_earned),
        }
        for a in rows.order_by("lecture__starts_at")
    ]
