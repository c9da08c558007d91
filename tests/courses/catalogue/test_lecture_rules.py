"""Lecture validation and scheduling: overlaps, durations, URLs, weekly series."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from courses.exceptions import ScheduleError
from courses.models import Lecture, Programme
from courses.selectors import lecture_status_q
from courses.services import WeeklySeries, lecture_schedule_weekly_series
from portal.models import AuditLog, User
from tests.factories import LectureFactory

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_overlapping_lecture_in_same_programme_is_invalid(programme: Programme) -> None:
    first = LectureFactory(programme=programme, sequence=1)
    clash = Lecture(
        programme=programme,
        sequence=2,
        title="重叠",
        category="general",
        starts_at=first.starts_at + timedelta(minutes=30),
        duration_minutes=60,
    )
    with pytest.raises(ValidationError) as excinfo:
        clash.full_clean()
    assert "starts_at" in excinfo.value.message_dict


def test_back_to_back_lectures_do_not_overlap(programme: Programme) -> None:
    first = LectureFactory(programme=programme, sequence=1, duration_minutes=90)
    after = Lecture(
        programme=programme,
        sequence=2,
        title="紧接",
        category="general",
        starts_at=first.ends_at,
        duration_minutes=30,
    )
    after.full_clean()


@pytest.mark.parametrize("minutes", [0, -5])
def test_zero_or_negative_duration_is_invalid(programme: Programme, minutes: int) -> None:
    lecture = Lecture(
        programme=programme,
        sequence=1,
        title="x",
        category="general",
        starts_at=timezone.now(),
        duration_minutes=minutes,
    )
    with pytest.raises(ValidationError) as excinfo:
        lecture.full_clean()
    assert "duration_minutes" in excinfo.value.message_dict


def test_zero_duration_is_refused_by_the_database(programme: Programme) -> None:
    lecture = LectureFactory(programme=programme, sequence=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Lecture.objects.filter(pk=lecture.pk).update(duration_minutes=0)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://live.example.org/a.m3u8", True),
        ("http://10.0.0.1:8080/live/a.m3u8", True),
        ("/demo/hls/live.m3u8", True),
        ("rtmp://live.example.org/a", False),
        ("javascript:alert(1)", False),
        ("//evil.example.org/a.m3u8", False),
        ("ftp://x/a.m3u8", False),
    ],
)
def test_stream_url_must_be_http(programme: Programme, url: str, ok: bool) -> None:
    lecture = Lecture(
        programme=programme,
        sequence=1,
        title="x",
        category="general",
        starts_at=timezone.now(),
        duration_minutes=60,
        stream_url=url,
    )
    if ok:
        lecture.full_clean()
    else:
        with pytest.raises(ValidationError) as excinfo:
            lecture.full_clean()
        assert "stream_url" in excinfo.value.message_dict


def test_huge_description_is_invalid(programme: Programme) -> None:
    programme.description = "字" * (10 * 1024 * 1024 // 3)
    with pytest.raises(ValidationError) as excinfo:
        programme.full_clean()
    assert "description" in excinfo.value.message_dict


def test_status_follows_time_and_override(programme: Programme) -> None:
    now = timezone.now()
    lecture = LectureFactory(
        programme=programme, sequence=1, starts_at=now - timedelta(minutes=10), duration_minutes=60
    )
    assert lecture.status_at(now) == Lecture.Status.LIVE
    assert lecture.status_at(now - timedelta(hours=1)) == Lecture.Status.SCHEDULED
    assert lecture.status_at(now + timedelta(hours=1)) == Lecture.Status.ENDED
    assert Lecture.objects.filter(lecture_status_q("live")).count() == 1
    lecture.status_override = Lecture.Override.ENDED
    lecture.save(update_fields=["status_override"])
    assert lecture.status_at(now) == Lecture.Status.ENDED
    assert Lecture.objects.filter(lecture_status_q("live")).count() == 0
    assert Lecture.objects.filter(lecture_status_q("ended")).count() == 1


def test_save_with_update_fields_keeps_ends_at_in_step(programme: Programme) -> None:
    lecture = LectureFactory(programme=programme, sequence=1, duration_minutes=60)
    lecture.duration_minutes = 120
    lecture.save(update_fields=["duration_minutes"])
    lecture.refresh_from_db()
    assert lecture.ends_at == lecture.starts_at + timedelta(minutes=120)


def test_weekly_series_creates_lectures_seven_days_apart(
    programme: Programme, organiser: User
) -> None:
    LectureFactory(programme=programme, sequence=1, starts_at=timezone.now() - timedelta(days=30))
    first = timezone.now().astimezone(SHANGHAI).replace(
        hour=19, minute=0, second=0, microsecond=0
    ) + timedelta(days=3)
    created = lecture_schedule_weekly_series(
        programme=programme,
        series=WeeklySeries(
            first_starts_at=first, count=4, duration_minutes=90, title_template="第{n}讲"
        ),
        scheduled_by=organiser,
    )
    assert [lec.sequence for lec in created] == [2, 3, 4, 5]
    assert [lec.title for lec in created] == ["第2讲", "第3讲", "第4讲", "第5讲"]
    gaps = {(b.starts_at - a.starts_at) for a, b in pairwise(created)}
    assert gaps == {timedelta(days=7)}
    assert all(lec.starts_at.astimezone(SHANGHAI).hour == 19 for lec in created)
    assert AuditLog.objects.filter(action="lecture.schedule_weekly_series").exists()


def test_weekly_series_overlap_saves_nothing(programme: Programme, organiser: User) -> None:
    start = timezone.now() + timedelta(days=1)
    LectureFactory(programme=programme, sequence=1, starts_at=start + timedelta(days=14))
    with pytest.raises(ScheduleError):
        lecture_schedule_weekly_series(
            programme=programme,
            series=WeeklySeries(first_starts_at=start, count=4, duration_minutes=90),
            scheduled_by=organiser,
        )
    assert Lecture.objects.filter(programme=programme).count() == 1


@pytest.mark.parametrize(
    ("count", "duration", "template"),
    [(0, 90, ""), (53, 90, ""), (3, 0, ""), (3, 90, "第{x}讲"), (3, 90, "{0}")],
)
def test_weekly_series_bad_input(
    programme: Programme, count: int, duration: int, template: str
) -> None:
    with pytest.raises(ScheduleError):
        lecture_schedule_weekly_series(
            programme=programme,
            series=WeeklySeries(
                first_starts_at=timezone.now() + timedelta(days=1),
                count=count,
                duration_minutes=duration,
                title_template=template,
            ),
            scheduled_by=None,
        )
    assert not Lecture.objects.exists()
