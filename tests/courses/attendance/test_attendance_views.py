"""The cadre's study record page (/me/study/)."""

# Fixtures are imported from tests/courses/attendance/attendance_support.py, so pytest arguments
# shadow the imported names on purpose.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from courses.attendance.credit import attendance_flush
from courses.models import Attendance, AttendanceOverride
from courses.services import attendance_heartbeat
from tests.courses.attendance.attendance_support import (  # noqa: F401 (fixtures)
    START,
    backend,
    clock,
    live_lecture,
    short_lecture,
)

pytestmark = pytest.mark.django_db


def test_study_record_url_is_stable():
    assert reverse("courses:study_record") == "/me/study/"


def test_study_record_needs_sign_in(client):
    response = client.get("/me/study/")
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_empty_study_record(client, cadre):
    client.force_login(cadre)
    response = client.get("/me/study/")
    assert response.status_code == 200
    assert "我的学习档案" in response.content.decode()
    assert "暂无学习记录" in response.content.decode()


def test_study_record_shows_modes_minutes_completion_and_totals(
    client, backend, clock, cadre, outsider, organiser, live_lecture, short_lecture
):
    clock.move_to(START)
    for _ in range(4):  # 2 minutes live in the 90-minute lecture
        attendance_heartbeat(user=cadre, lecture_id=live_lecture.pk, playing=True, replay=False)
        attendance_heartbeat(user=outsider, lecture_id=live_lecture.pk, playing=True, replay=False)
        clock.shift(30)
    clock.move_to(short_lecture.ends_at + timedelta(days=1))
    for _ in range(4):  # the short lecture's replay: 2 minutes, completed
        attendance_heartbeat(user=cadre, lecture_id=short_lecture.pk, playing=True, replay=True)
        clock.shift(30)
    attendance_flush()
    AttendanceOverride.objects.create(
        attendance=Attendance.objects.get(user=cadre, lecture=live_lecture),
        completed=True,
        reason="补录",
        by=organiser,
    )

    client.force_login(cadre)
    html = client.get("/me/study/").content.decode()
    assert live_lecture.title in html
    assert short_lecture.title in html
    assert "在线直播" in html
    assert "回放" in html
    assert "经组织方更正" in html
    total_hours = live_lecture.credit_hours + short_lecture.credit_hours
    assert f"已获 {total_hours} 学时" in html
    assert "完成 2 讲" in html
    assert "累计观看 4 分钟" in html
    assert "按专题培训统计" in html
    assert "按年度统计" in html
    assert ">2025<" in html
    assert total_hours == Decimal("4.0")


def test_study_record_shows_only_the_callers_rows(
    client, backend, clock, cadre, outsider, live_lecture
):
    clock.move_to(START)
    attendance_heartbeat(user=outsider, lecture_id=live_lecture.pk, playing=True, replay=False)
    attendance_flush()
    client.force_login(cadre)
    html = client.get("/me/study/").content.decode()
    assert live_lecture.title not in html


def test_home_links_the_study_record(client, cadre):
    client.force_login(cadre)
    assert 'href="/me/study/"' in client.get("/").content.decode()
