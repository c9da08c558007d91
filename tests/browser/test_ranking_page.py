"""The 通报 ranking page on a phone and a desktop: the Chart.js trend chart draws, nothing is
wider than the screen (the table scrolls inside its box), no serious accessibility issue."""

from __future__ import annotations

import pytest
from playwright.sync_api import ViewportSize
from pytest_django.live_server_helper import LiveServer

from portal.models import User
from tests.browser.conftest import axe_violations, new_page, screenshot, sign_in
from tests.courses.reports.followup_support import World, world_fixture  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ranking_chart_and_table_fit_the_screen(
    browser: object,
    live_server: LiveServer,
    world: World,
    organiser: User,
    viewport: ViewportSize,
) -> None:
    page = new_page(browser, viewport)  # type: ignore[arg-type]
    tag = "phone" if viewport["width"] < 500 else "desktop"
    sign_in(page, live_server.url, organiser.username)
    page.goto(f"{live_server.url}/reports/ranking/?programme={world.programme.pk}&level=county")
    assert page.locator("h1").inner_text().endswith("通报排名")
    page.wait_for_function("() => window.Chart && Chart.getChart('ranking-chart')")
    labels = page.evaluate("() => Chart.getChart('ranking-chart').data.labels")
    assert labels == ["第1讲", "第2讲"]
    box = page.locator("#ranking-chart").bounding_box()
    assert box is not None and box["width"] <= viewport["width"] and box["height"] > 200
    assert page.locator("table.ranking tbody tr").first.inner_text().startswith("1")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
    assert axe_violations(page) == []
    screenshot(page, f"ranking-{tag}")
    page.goto(
        f"{live_server.url}/reports/attendance/follow-up/"
        f"?programme={world.programme.pk}&unit=330106000000&kind=not_completed"
    )
    assert "王三" in page.locator("table.followup").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
    assert axe_violations(page) == []
    screenshot(page, f"followup-{tag}")
