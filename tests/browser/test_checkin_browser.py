"""Venue check-in in a real browser: the staff page's QR code rotates by itself (3 s codes
here), a cadre's phone opens the scanned URL and is checked in, and the staff page's
counts follow without a reload. axe-core finds no serious or critical violations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser
from pytest_django.live_server_helper import LiveServer

from courses.models import Attendance, Programme
from courses.services import enrolment_assign_bulk
from portal.models import User
from tests.browser.conftest import PHONE, axe_violations, new_page, screenshot, sign_in
from tests.conftest import Tree
from tests.factories import LectureFactory, UserFactory, VenueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rotating_code_phone_scan_and_live_counts(
    browser: Browser,
    live_server: LiveServer,
    settings: Any,
    tree: Tree,
    cadre: User,
    school_staff: User,
    programme: Programme,
) -> None:
    settings.ATTENDANCE_CHECKIN_QR_SECONDS = 3
    lecture = LectureFactory(
        programme=programme,
        sequence=1,
        title="人工智能新浪潮",
        starts_at=timezone.now() - timedelta(minutes=5),
    )
    venue = VenueFactory(name="西湖区委党校", unit=tree.xihu)
    lecture.venues.add(venue)
    classmate = UserFactory(username="classmate", full_name="王五", unit=tree.lingyin)
    enrolment_assign_bulk(
        programme=programme, users=[cadre, classmate], venue=venue, assigned_by=None
    )

    staff = new_page(browser)
    sign_in(staff, live_server.url, "school-xh")
    staff.goto(f"{live_server.url}/lectures/{lecture.pk}/")
    staff.click("#checkin-links a:has-text('西湖区委党校')")
    staff.wait_for_selector("#qr svg")
    assert staff.locator("h1").inner_text() == "集中收看签到 · 西湖区委党校"
    assert staff.locator("#checked-count").inner_text() == "0"
    assert staff.locator("#expected-count").inner_text() == "2"
    first_slot = staff.locator("#qr").get_attribute("data-slot")
    first_svg = staff.locator("#qr").inner_html()
    # The code changes by itself (no reload: the page keeps a marker we set).
    staff.evaluate("window.__sameDocument = true")
    staff.wait_for_function(
        "slot => document.getElementById('qr').getAttribute('data-slot') !== slot",
        arg=first_slot,
        timeout=10_000,
    )
    assert staff.evaluate("window.__sameDocument") is True
    assert staff.locator("#qr").inner_html() != first_svg
    assert axe_violations(staff) == []
    screenshot(staff, "checkin-staff-desktop")

    # The cadre's phone opens the URL the code carries.
    phone = new_page(browser, PHONE)
    sign_in(phone, live_server.url, "13812345678")
    scanned, scanned_slot = staff.evaluate(
        "() => { const qr = document.getElementById('qr');"
        " return [qr.getAttribute('data-url'), Number(qr.getAttribute('data-slot'))]; }"
    )
    assert scanned and scanned.startswith(f"{live_server.url}/check-in/")
    phone.goto(scanned)
    assert phone.locator("h1").inner_text() == "签到成功"
    assert "西湖区委党校" in phone.locator("#scan-result").inner_text()
    row = Attendance.objects.get(user=cadre, lecture=lecture)
    assert row.venue_id == venue.pk and row.completed
    assert axe_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    screenshot(phone, "checkin-scan-phone")

    # The staff page's counts and roster follow.
    staff.wait_for_function("() => document.getElementById('checked-count').textContent === '1'")
    assert "is-here" in (staff.locator(f"tr[data-user='{cadre.pk}']").get_attribute("class") or "")

    # Mark the rest of the class at once.
    staff.click("#mark-all")
    staff.wait_for_load_state("networkidle")
    assert "已为 1 名学员签到" in staff.locator(".messages").inner_text()
    assert staff.locator("#checked-count").inner_text() == "2"
    assert Attendance.objects.filter(lecture=lecture, checked_in_at__isnull=False).count() == 2

    # A stale code (two periods old) is refused with a reason.
    staff.wait_for_function(
        "slot => document.getElementById('qr').getAttribute('data-slot') - slot >= 2",
        arg=scanned_slot,
        timeout=10_000,
    )
    phone.goto(scanned)
    assert phone.locator("h1").inner_text() == "签到未成功"
    assert "二维码已过期" in phone.locator(".reason").inner_text()

    # The staff page on a phone-sized screen.
    staff_phone = new_page(browser, PHONE)
    sign_in(staff_phone, live_server.url, "school-xh")
    staff_phone.goto(f"{live_server.url}/lectures/{lecture.pk}/venues/{venue.pk}/check-in/")
    staff_phone.wait_for_selector("#qr svg")
    assert staff_phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    assert axe_violations(staff_phone) == []
    screenshot(staff_phone, "checkin-staff-phone")
    for page in (staff, phone, staff_phone):
        page.context.close()
