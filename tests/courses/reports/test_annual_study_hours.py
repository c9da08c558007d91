"""Annual 学时 totals (issue 18 §4): the cadre's progress towards the annual target, the
staff page by unit with who is below it, and ``manage.py study_hours`` (csv / xlsx)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from courses.attendance.credit import attendance_override_create
from courses.models import Attendance, Lecture, Programme
from courses.reports.annual import annual_rows, annual_summary
from portal.models import AuditLog, User
from tests.factories import LectureFactory, UserFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _done(user: User, lecture: Lecture, *, completed: bool = True) -> Attendance:
    return Attendance.objects.create(
        user=user,
        lecture=lecture,
        live_seconds=lecture.duration_minutes * 60 if completed else 60,
        completed=completed,
        credit_hours_earned=lecture.credit_hours if completed else Decimal("0"),
    )


@pytest.fixture
def year_world(tree: Any, programme: Programme, cadre: User, organiser: User) -> dict[str, Any]:
    # the last evening of 2025 (local time) and lectures of 2026
    eve = LectureFactory(
        programme=programme, sequence=1, starts_at=datetime(2025, 12, 31, 23, 0, tzinfo=SHANGHAI)
    )
    spring = [
        LectureFactory(
            programme=programme,
            sequence=2 + i,
            starts_at=datetime(2026, 3, 1, 19, 0, tzinfo=SHANGHAI) + timedelta(days=7 * i),
        )
        for i in range(3)
    ]
    keen = UserFactory(username="keen", full_name="勤学", unit=tree.village)
    idle = UserFactory(username="idle", full_name="未学", unit=tree.lingyin)
    elsewhere = UserFactory(username="far", full_name="宁波干部", unit=tree.haishu)
    _done(cadre, eve)  # counts in 2025, not 2026
    _done(cadre, spring[0])
    _done(cadre, spring[1], completed=False)
    row = _done(keen, spring[0], completed=False)
    attendance_override_create(attendance=row, completed=True, reason="集中收看补录", by=organiser)
    for lecture in spring[1:]:
        _done(keen, lecture)
    _done(elsewhere, spring[0])
    return {"keen": keen, "idle": idle, "elsewhere": elsewhere, "spring": spring}


def test_each_cadre_gets_the_years_hours_with_corrections_and_nobody_is_left_out(
    tree: Any, cadre: User, year_world: dict[str, Any], settings: Any
) -> None:
    settings.STUDY_HOURS_ANNUAL_TARGET = 5
    rows = {r.name: r for r in annual_rows(unit=tree.xihu, year=2026)}
    assert set(rows) == {"张三", "勤学", "未学"}  # the subtree only, the idle one included
    assert (rows["张三"].hours, rows["张三"].lectures) == (Decimal("2.0"), 1)
    assert (rows["勤学"].hours, rows["勤学"].lectures) == (Decimal("6.0"), 3)  # corrected row
    assert rows["勤学"].reached and not rows["张三"].reached
    assert rows["未学"].hours == 0 and rows["未学"].unit_chain.endswith("灵隐街道")
    below = {r.name for r in annual_rows(unit=tree.xihu, year=2026, below_only=True)}
    assert below == {"张三", "未学"}
    assert {r.name: r.hours for r in annual_rows(unit=tree.xihu, year=2025)}["张三"] == 2
    summary = annual_summary(unit=tree.xihu, year=2026)
    assert (summary.cadres, summary.reached, summary.below) == (3, 1, 2)
    assert summary.hours == Decimal("8.0")


def test_the_study_record_shows_the_years_progress(
    client: Client, cadre: User, year_world: dict[str, Any], time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI))
    client.force_login(cadre)
    html = client.get("/me/study/").content.decode()
    assert "2026 年度学时" in html
    assert 'id="year-hours">2.0<' in html and "/ 50" in html
    assert "还差 48.0 学时" in html
    assert 'value="4"' in html  # 2 of 50: 4 %
    assert "/me/study/certificate.pdf?year=2026" in html


def test_staff_see_their_unit_and_download_it_all(
    client: Client, school_staff: User, tree: Any, year_world: dict[str, Any]
) -> None:
    client.force_login(school_staff)
    page = client.get("/reports/study-hours/?year=2026")
    assert page.status_code == 200
    html = page.content.decode()
    assert "西湖区" in html and "未达标" in html and "未学" in html
    assert "勤学" in html  # 6 of 50: below the target too
    csv = client.get("/reports/study-hours/?year=2026&list=all&format=csv")
    assert csv.status_code == 200
    text = b"".join(cast(Any, csv).streaming_content).decode("utf-8-sig")
    assert "勤学" in text and "差 44.0 学时" in text
    entry = AuditLog.objects.get(action="report.export.study_hours")
    assert entry.detail["rows"] == 4 and entry.detail["params"]["year"] == 2026
    outside = client.get(f"/reports/study-hours/?year=2026&unit={tree.haishu.code}")
    assert outside.status_code == 403
    assert client.get("/reports/study-hours/?year=26").status_code == 400


def test_cadres_cannot_read_the_staff_page(client: Client, cadre: User) -> None:
    client.force_login(cadre)
    assert client.get("/reports/study-hours/").status_code == 403


def test_the_command_exports_csv_and_xlsx(
    tree: Any, year_world: dict[str, Any], tmp_path: Path, school_staff: User
) -> None:
    out = io.StringIO()
    call_command("study_hours", year=2026, unit=tree.xihu.code, format="csv", stdout=out)
    lines = out.getvalue().lstrip("\ufeff").splitlines()
    assert lines[0].split(",")[:2] == ["姓名", "单位"]
    # everyone of the subtree: the three cadres and the party-school staff member
    assert len(lines) == 5 and any("未学" in line for line in lines)
    path = tmp_path / "hours.xlsx"
    call_command(
        "study_hours",
        year=2026,
        unit=tree.xihu.code,
        format="xlsx",
        output=str(path),
        below_target=True,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    names = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert set(names) == {"张三", "勤学", "未学", "西湖党校"}  # all below the default 50
    with pytest.raises(CommandError, match="404"):
        call_command("study_hours", year=2026, unit="999999999999", format="csv")
    with pytest.raises(CommandError, match="403"):
        call_command(
            "study_hours",
            year=2026,
            unit=tree.haishu.code,
            format="csv",
            as_user=school_staff.username,
        )
    with pytest.raises(CommandError, match="invalid_year"):
        call_command("study_hours", year=1999, unit=tree.xihu.code, format="csv")
