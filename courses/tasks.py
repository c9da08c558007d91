"""Celery tasks of the courses app: thin wrappers around one service each."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="courses.attendance_flush", ignore_result=True)
def attendance_flush_task() -> int:
    """Beat, every ATTENDANCE_FLUSH_SECONDS: move buffered heartbeat credit to SQL."""
    from courses.attendance.credit import attendance_flush

    return attendance_flush().rows


@shared_task(name="courses.attendance_end_flush", ignore_result=True)
def attendance_end_flush_task() -> int:
    """Beat, every min(ATTENDANCE_FLUSH_SECONDS, 30) s: flush once more for the lectures
    whose credit window (end + grace) just closed; each lecture is claimed once."""
    from courses.attendance.end_flush import attendance_end_flush

    return len(attendance_end_flush().lecture_ids)
