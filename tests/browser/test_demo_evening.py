"""The demo looks like the evening it models (issue 11's checks), in a real browser on a
real daphne: as ``school`` the reports have figures and a chart, as ``cadre`` the live
lecture has a Q&A and the study record has 学时, as ``organiser`` questions wait."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from courses.models import Lecture
from demo import programme as demo_programme
from demo.seed import demo_seed
from portal.models import User
from tests.browser.conftest import PHONE, screenshot
from tests.browser.live_support import live_server_env, live_server_url_for, signed_in_page
from tests.livestream.servers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]


AUDIENCE = 6
SERIES = {"LIVE_SERIES_INTERVAL_SECONDS": "1"}  # a point of the big screen's line per second


@pytest.fixture
def server_env(redis_url: str) -> dict[str, str]:
    """What the portal's processes run with (the simulated audience makes sessions)."""
    return live_server_env(redis_url, extra=SERIES)


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    yield from live_server_url_for(server_env, tmp_path)


def _percent(text: str) -> float:
    match = re.search(r"([0-9.]+)%", text)
    assert match, text
    return float(match[1])


def test_the_demo_evening_has_figures_a_qa_and_a_study_record(
    browser: Browser, server: str, server_env: dict[str, str]
) -> None:
    demo_seed(cadres=4000, attendance="ended")  # enough for believable county figures
    users = {
        u.username: u for u in User.objects.filter(username__in=["school", "cadre", "organiser"])
    }
    live = Lecture.objects.get(sequence=demo_programme.LIVE_SEQUENCE)
    ended = Lecture.objects.get(sequence=1)
    desktop: Any = {"width": 1280, "height": 900}

    # school: the reports home's figures, then an ended lecture's report with its chart
    page = signed_in_page(browser, server, users["school"], f"{server}/reports/", desktop)
    assert _percent(page.locator("#fig-attendance").inner_text()) > 0
    assert _percent(page.locator("#fig-completion").inner_text()) > 0
    page.goto(f"{server}/reports/attendance/?lecture={ended.pk}")
    page.wait_for_selector("#chart-units[data-rendered='1']")
    assert page.eval_on_selector("#chart-units", "c => c.width > 0 && c.height > 0")
    screenshot(page, "demo-report-desktop")  # README's screenshot (docs/screenshots/)
    page.context.close()

    # cadre: the live Q&A (published, one answered, one on the screen) and the 学时
    phone: Any = PHONE
    room = f"{server}/lectures/{live.pk}/live/"
    page = signed_in_page(browser, server, users["cadre"], room, phone)
    questions = page.locator("#question-list > li")
    expect(questions.nth(4)).to_be_visible(timeout=15000)
    assert questions.count() >= 5
    assert page.locator("#question-list .tag-answered").count() >= 1
    assert page.locator("#question-list li.highlighted").count() >= 1
    screenshot(page, "demo-live-room-phone")  # README's screenshot (docs/screenshots/)
    page.goto(f"{server}/me/study/")
    summary = page.locator("main p").first.inner_text()
    hours = re.search(r"([0-9.]+)", summary)
    assert hours and float(hours[1]) > 0, summary
    page.context.close()

    # cadre: the reminders that went out before the evening are in the inbox
    page = signed_in_page(browser, server, users["cadre"], f"{server}/inbox/", phone)
    expect(page.locator("main")).to_contain_text(live.title)
    assert page.locator("main").inner_text().count(live.title) >= 2  # 24 h and 1 h before
    page.context.close()

    # organiser: the moderators' queue has questions waiting, one flagged
    page = signed_in_page(browser, server, users["organiser"], room, desktop)
    queue = page.locator("#queue-list > li")
    expect(queue.first).to_be_visible(timeout=15000)
    assert queue.count() >= 2
    page.context.close()

    # organiser, with a simulated audience (make run AUDIENCE=N): the big screen moves
    audience = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "demo_audience",
            str(AUDIENCE),
            "--url",
            server,
            "--vote-every",
            "2",
            "--duration",
            "12",
        ],
        cwd=ROOT,
        env=server_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        page = signed_in_page(
            browser, server, users["organiser"], f"{server}/lectures/{live.pk}/dashboard/", desktop
        )
        expect(page.locator("#stat-viewers")).to_have_text(
            re.compile(rf"^({AUDIENCE}|{AUDIENCE + 1})$"), timeout=30_000
        )
        online = page.locator('#dash-units [data-key="viewers"]').all_inner_texts()
        assert sum(int(n) for n in online) >= AUDIENCE, online
        expect(page.locator("#dash-series-empty")).to_be_hidden(timeout=15_000)
        assert page.locator("#dash-waiting li").count() >= 2
        assert page.locator("#dash-waiting .tag-flagged").count() == 1
        screenshot(page, "demo-dashboard-desktop")  # README's screenshot (docs/screenshots/)
        page.context.close()
    finally:
        out, err = audience.communicate(timeout=60)  # it stops after --duration
    assert audience.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["connected"] >= AUDIENCE and report["heartbeats_acked"] > 0, report
    assert report["votes"] > 0 and report["errors"] == 0, report
