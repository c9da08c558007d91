"""Each of the four demo accounts signs in through the browser and lands on its own home."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser
from pytest_django.live_server_helper import LiveServer

from demo.seed import demo_seed
from tests.browser.conftest import axe_violations, new_page, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("username", "path", "marker"),
    [
        ("cadre", "/", "我的课程"),
        ("organiser", "/admin/courses/programme/", "人工智能通识及应用网络专题培训"),
        ("school", "/reports/", "考勤报表"),
        ("admin", "/admin/", "干部在线培训管理"),
    ],
)
def test_demo_account_lands_on_its_home(
    browser: Browser, live_server: LiveServer, username: str, path: str, marker: str
) -> None:
    demo_seed(cadres=20)
    page = new_page(browser)
    sign_in(page, live_server.url, username)
    assert page.url == f"{live_server.url}{path}"
    assert marker in page.locator("body").inner_text()
    screenshot(page, f"home-{username}")
    if username in ("cadre", "school"):
        assert axe_violations(page) == []
    page.context.close()


def test_demo_cadre_sees_the_live_lecture_first(browser: Browser, live_server: LiveServer) -> None:
    demo_seed(cadres=5)
    page = new_page(browser)
    sign_in(page, live_server.url, "13800000001")
    first = page.locator(".lecture-item").first
    assert "直播中" in first.inner_text()
    page.context.close()
