"""The `school` demo account works with its county's attendance report in a real browser:
drill into a township, sort by completion rate, download the XLSX (it matches the page),
charts render, a neighbouring county is refused, readable at 360 px (issue 5)."""

from __future__ import annotations

import io
import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page
from pytest_django.live_server_helper import LiveServer

from courses.models import Attendance, Enrolment, Lecture
from courses.summaries.rebuild import summaries_rebuild
from courses.summaries.sync import headcounts_changed
from demo.seed import demo_seed
from portal.models import OrgUnit, Role
from tests.browser.conftest import PHONE, axe_violations, new_page, screenshot, sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _seed() -> dict[str, Any]:
    """The demo, plus cadres with attendance of every kind in three townships of the
    school's county and in a neighbouring county."""
    demo_seed(cadres=20)
    county = Role.objects.get(user__username="school", kind=Role.Kind.SCHOOL).unit
    lecture = (
        Lecture.objects.filter(starts_at__lt=timezone.now() - timedelta(hours=3))
        .order_by("-starts_at")
        .first()
    )
    assert lecture is not None
    townships = list(county.get_children().filter(kind=OrgUnit.Kind.TOWNSHIP).order_by("path")[:3])
    neighbour = county.get_siblings().filter(kind=OrgUnit.Kind.COUNTY).exclude(pk=county.pk)[0]
    rng = random.Random(5)
    places = [
        unit
        for township in townships
        for unit in [township, *township.get_children().order_by("path")[:3]]
    ] + [neighbour]
    now = timezone.now()
    for i, unit in enumerate(places * 3):
        user = UserFactory(username=f"rb{i}", full_name=f"测试{i}", unit=unit, phone=f"139{i:08d}")
        Enrolment.objects.create(user=user, programme=lecture.programme)
        live = rng.choice([0, 600, 3000, 5400])
        Attendance.objects.create(
            user=user,
            lecture=lecture,
            live_seconds=live,
            replay_seconds=rng.choice([0, 0, 1800]),
            checked_in_at=now if rng.random() < 0.2 else None,
            completed=live >= 4320,
        )
    summaries_rebuild()
    headcounts_changed()
    return {"county": county, "lecture": lecture, "townships": townships, "neighbour": neighbour}


def _table(page: Page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#report-table tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))",
    )


def _rate(text: str) -> Decimal | None:
    return None if text == "—" else Decimal(text.rstrip("%"))


def test_school_reads_drills_sorts_downloads_and_is_refused_outside(
    browser: Browser, live_server: LiveServer
) -> None:
    seeded = _seed()
    county, lecture = seeded["county"], seeded["lecture"]
    page = new_page(browser)
    sign_in(page, live_server.url, "school")

    # From the reports home to the county's report of the lecture.
    page.goto(f"{live_server.url}/reports/")
    page.click(f"a[href*='lecture={lecture.pk}&unit={county.code}']")
    page.wait_for_selector("#report-table")
    assert f"{county.name} · 考勤报表" in page.inner_text("h1")
    rows = _table(page)
    assert rows[-1][0] == "合计"
    names = [r[0] for r in rows]
    for township in seeded["townships"]:
        assert township.name in names
    page.wait_for_selector("#chart-units[data-rendered='1']")
    assert page.eval_on_selector("#chart-units", "c => c.width > 0 && c.height > 0")
    assert axe_violations(page) == []
    screenshot(page, "report-county")

    # Drill into the first township.
    township = seeded["townships"][0]
    page.click(f"#report-table tbody a:text-is('{township.name}')")
    page.wait_for_url(f"**unit={township.code}**")
    crumbs = page.inner_text(".report-crumbs")
    assert county.name in crumbs and township.name in crumbs
    assert county.get_parent().name not in crumbs  # never above the scope root
    rows = _table(page)
    assert rows[-1][0] == "合计"

    # Sort by completion rate (descending on the first click).
    page.click("#report-table thead a[data-sort='completion_rate']")
    page.wait_for_url("**sort=-completion_rate**")
    rows = _table(page)
    units = [r for r in rows if r[0] not in ("本级直属", "合计")]
    rates = [_rate(r[10]) for r in units]
    present = [r for r in rates if r is not None]
    assert present == sorted(present, reverse=True)
    assert page.get_attribute("th[aria-sort='descending']", "aria-sort") == "descending"
    assert axe_violations(page) == []

    # The XLSX holds exactly this table.
    with page.expect_download() as download_info:
        page.click("a[data-testid='xlsx']")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    assert township.name in download.suggested_filename
    path = download.path()
    assert path is not None
    book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    values = list(book.active.values)
    headers = page.eval_on_selector_all(
        "#report-table thead th", "cells => cells.map(c => c.innerText.replace(/[▲▼]/g, '').trim())"
    )
    assert list(values[0]) == headers
    assert len(values) - 1 == len(rows)
    for got, shown in zip(values[1:], rows, strict=True):
        for value, text in zip(got, shown, strict=True):
            if isinstance(value, int | float):
                assert Decimal(str(value)) == Decimal(text)
            else:
                assert str(value or "") == text

    # A neighbouring county: 403, no rows.
    neighbour = seeded["neighbour"]
    response = page.goto(
        f"{live_server.url}/reports/attendance/?lecture={lecture.pk}&unit={neighbour.code}"
    )
    assert response is not None and response.status == 403
    assert page.locator("#report-table").count() == 0
    assert "测试" not in page.inner_text("main")
    page.context.close()


def test_report_is_readable_on_a_phone(browser: Browser, live_server: LiveServer) -> None:
    seeded = _seed()
    page = new_page(browser, PHONE)
    sign_in(page, live_server.url, "school")
    page.goto(
        f"{live_server.url}/reports/attendance/?programme={seeded['lecture'].programme_id}"
        f"&unit={seeded['county'].code}"
    )
    page.wait_for_selector("#chart-units[data-rendered='1']")
    page.wait_for_selector("#chart-trend[data-rendered='1']")
    # The page does not scroll sideways; the wide table scrolls inside its own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.eval_on_selector("#chart-units", "c => c.getBoundingClientRect().width") <= 360
    assert axe_violations(page) == []
    screenshot(page, "report-county-360")
    page.context.close()
