"""An organiser signs into the admin, opens the programme and schedules a weekly series.

Drives Debian's Chromium through Playwright against the live server; the pages are Chinese,
and axe-core (when vendored) finds no serious or critical violation on the changelist.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from django.utils import timezone
from playwright.sync_api import Browser
from pytest_django.live_server_helper import LiveServer

from courses.models import Programme
from portal.models import User
from portal.services import organiser_permissions_grant
from tests.browser.conftest import AXE, DEMO_PASSWORD, axe_violations, new_page, screenshot
from tests.conftest import Tree
from tests.factories import LectureFactory, ProgrammeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_organiser_schedules_a_weekly_series(
    browser: Browser,
    live_server: LiveServer,
    organiser: User,
    programme: Programme,
    tree: Tree,
) -> None:
    organiser_permissions_grant(user=organiser)
    programme.title = "人工智能通识及应用网络专题培训"
    programme.save(update_fields=["title"])
    first = timezone.localtime() + timedelta(days=7)
    first = first.replace(hour=19, minute=0, second=0, microsecond=0)
    LectureFactory(programme=programme, sequence=1, title="人工智能新浪潮", starts_at=first)
    ProgrammeFactory(title="宁波市数字经济专题培训", organiser_unit=tree.ningbo)

    page = new_page(browser)
    page.goto(f"{live_server.url}/admin/login/")
    assert "知行 · 干部在线培训管理" in page.content()
    page.fill("#id_username", organiser.username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state("networkidle")

    page.goto(f"{live_server.url}/admin/courses/programme/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "宁波市数字经济专题培训" not in page.content()
    if AXE.exists():
        assert axe_violations(page) == []
    screenshot(page, "admin-programme-changelist")

    # Open the programme: its lecture is listed inline.
    page.click("#result_list a:has-text('人工智能通识及应用网络专题培训')")
    page.wait_for_load_state("networkidle")
    assert page.locator("#lectures-group").get_by_text("人工智能新浪潮").count() >= 1 or (
        page.locator("#id_lectures-0-title").input_value() == "人工智能新浪潮"
    )

    # A pasted over-long description is stopped in the page with a Chinese message.
    change_url = page.url
    page.evaluate("document.getElementById('id_description').value = 'x'.repeat(20001)")
    page.click("input[name=_save]")
    assert "内容过长" in page.locator(".zx-max-chars-error").inner_text()
    assert page.url == change_url
    programme.refresh_from_db()
    assert len(programme.description) < 100

    # Back to the list and run the action on this one programme.
    page.goto(f"{live_server.url}/admin/courses/programme/")
    page.check("#result_list tbody input.action-select")
    page.select_option("select[name=action]", "schedule_weekly_series")
    page.click("button[name=index]")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "安排每周系列课"

    start = first + timedelta(days=7)
    page.fill("#id_first_starts_at_0", start.strftime("%Y-%m-%d"))
    page.fill("#id_first_starts_at_1", "19:00")
    page.fill("#id_count", "4")
    page.fill("#id_title_template", "人工智能应用第{n}讲")
    page.select_option("#id_category", "application")
    if AXE.exists():
        assert axe_violations(page) == []
    screenshot(page, "admin-series-form")
    page.click("#schedule_series_form input[type=submit]")
    page.wait_for_load_state("networkidle")

    success = page.locator(".messagelist .success").inner_text()
    assert "已安排 4 讲每周系列课" in success
    titles = [page.locator(f"#id_lectures-{i}-title").input_value() for i in range(5)]
    assert titles == ["人工智能新浪潮"] + [f"人工智能应用第{n}讲" for n in range(2, 6)]
    assert list(programme.lectures.order_by("sequence").values_list("sequence", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
    ]
    starts = list(programme.lectures.order_by("sequence").values_list("starts_at", flat=True))
    assert all(b - a == timedelta(days=7) for a, b in pairwise(starts))
    if AXE.exists():
        assert axe_violations(page) == []
    screenshot(page, "admin-series-done")
    page.context.close()
