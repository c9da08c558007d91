"""Attendance in Chromium on a real daphne with compressed windows (2 s heartbeats): the room
plays the demo HLS stream, sends heartbeats at the server's interval, they are
acknowledged, and after a flush the study record shows the credit; with an attention check
the "仍在观看吗?" prompt appears, no heartbeat is sent (no credit) until it is clicked, and
credit resumes after."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, WebSocket, expect

from courses.attendance.buffer import buffer_reset
from courses.attendance.credit import attendance_flush, lecture_cache_clear
from courses.models import Lecture, Programme
from courses.services import enrolment_create
from portal.models import User
from tests.browser.conftest import axe_violations, new_page, screenshot
from tests.browser.live_support import session_cookie
from tests.livestream.servers import daphne, production_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]

HEARTBEAT_SECONDS = 2
ATTENTION_MINUTE_SECONDS = 4  # a programme's "1 minute" check interval lasts 4 s here


@pytest.fixture
def prefix() -> str:
    return f"zxab:{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def server(redis_url: str, prefix: str, tmp_path: Any) -> Iterator[str]:
    env = production_env(
        redis_url=redis_url,
        prefix=prefix,
        extra={
            "DEBUG": "true",  # static files (hls.js, the demo segments) from the app
            "ATTENDANCE_REDIS_URL": redis_url,
            "ATTENDANCE_REDIS_PREFIX": prefix,
            "ATTENDANCE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "ATTENDANCE_FLUSH_SECONDS": "3600",  # the test flushes
            "ATTENDANCE_ATTENTION_MINUTE_SECONDS": str(ATTENTION_MINUTE_SECONDS),
            "LIVE_VIEWERS_INTERVAL_SECONDS": "1",  # dashboard figures every second
            "LIVE_SERIES_INTERVAL_SECONDS": "1",  # and a point of its line
        },
    )
    with daphne(env, log=tmp_path / "daphne.log") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def short_live_lecture(programme: Programme, cadre: User) -> Lecture:
    """Live now; completion needs 1% of 10 minutes = 6 s (three 2 s windows)."""
    from tests.factories import LectureFactory

    enrolment_create(user=cadre, programme=programme)
    return LectureFactory(
        programme=programme,
        sequence=1,
        title="人工智能与基层治理",
        starts_at=timezone.now() - timedelta(minutes=1),
        duration_minutes=10,
        completion_ratio=Decimal("0.01"),
        credit_hours=Decimal("1.5"),
        stream_url=reverse("demo:live_playlist"),
    )


class Frames:
    """The room socket's frames, as the page sent and received them."""

    def __init__(self, page: Page) -> None:
        self.sent: list[tuple[float, dict[str, Any]]] = []
        self.received: list[tuple[float, dict[str, Any]]] = []
        page.on("websocket", self._attach)

    def _attach(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self._add(self.sent, payload))
        ws.on("framereceived", lambda payload: self._add(self.received, payload))

    @staticmethod
    def _add(into: list[tuple[float, dict[str, Any]]], payload: Any) -> None:
        try:
            into.append((time.monotonic(), json.loads(payload)))
        except (TypeError, ValueError):
            pass

    def heartbeats(self, since: float = 0) -> list[float]:
        return [t for t, f in self.sent if f.get("type") == "heartbeat" and t >= since]

    def credited(self) -> int:
        acks = [f["credited_seconds"] for _t, f in self.received if f["type"] == "heartbeat.ack"]
        return max(acks, default=0)


def open_room(browser: Browser, server: str, user: User, lecture: Lecture) -> tuple[Page, Frames]:
    page = new_page(browser)
    page.context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": server}])
    frames = Frames(page)
    page.goto(f"{server}/lectures/{lecture.pk}/live/")
    expect(page.locator("#live-conn")).to_have_text("已连接", timeout=15_000)
    page.wait_for_function(
        "() => { const v = document.getElementById('live-video');"
        " return v && (v.currentSrc || v.src); }",
        timeout=15_000,
    )
    page.evaluate(
        "() => { const v = document.getElementById('live-video');"
        " v.muted = true; return v.play().catch(() => null); }"
    )
    page.wait_for_function(
        "() => document.getElementById('live-video').currentTime > 0.2", timeout=30_000
    )
    return page, frames


def wait_until(page: Page, condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        page.wait_for_timeout(100)


def flush(settings: Any, redis_url: str, prefix: str) -> None:
    settings.ATTENDANCE_REDIS_URL = redis_url
    settings.ATTENDANCE_REDIS_PREFIX = prefix
    buffer_reset()
    lecture_cache_clear()
    try:
        attendance_flush()
    finally:
        buffer_reset()


def test_watching_earns_credit_shown_in_the_study_record(
    server: str,
    browser: Browser,
    cadre: User,
    short_live_lecture: Lecture,
    settings: Any,
    redis_url: str,
    prefix: str,
) -> None:
    page, frames = open_room(browser, server, cadre, short_live_lecture)
    try:
        started = time.monotonic()
        wait_until(page, lambda: frames.credited() >= 8, 20, "heartbeats were not credited")
        # the page beats at the server's interval (2 s here), not a hard-coded 30 s
        beats = frames.heartbeats(since=started)
        gaps = [b - a for a, b in itertools.pairwise(beats)]
        assert len(beats) >= 3 and max(gaps) < HEARTBEAT_SECONDS + 1.5
        assert all(f["playing"] for _t, f in frames.sent if f.get("type") == "heartbeat")

        flush(settings, redis_url, prefix)
        page.goto(f"{server}/me/study/")
        row = page.locator("table.study-record tbody tr", has_text="人工智能与基层治理")
        expect(row).to_contain_text("已完成")
        expect(row).to_contain_text("1.5")
        screenshot(page, "attendance-study-record")
    finally:
        page.context.close()


def test_the_attention_prompt_pauses_credit_until_clicked(
    server: str, browser: Browser, cadre: User, short_live_lecture: Lecture
) -> None:
    programme = short_live_lecture.programme
    programme.attention_check_minutes = 1  # a check every ~4 s (2 to 6 s) in this test
    programme.save(update_fields=["attention_check_minutes"])
    page, frames = open_room(browser, server, cadre, short_live_lecture)
    try:
        prompt = page.locator("#attention-prompt")
        expect(prompt).to_be_visible(timeout=20_000)
        expect(prompt).to_contain_text("仍在观看吗")
        screenshot(page, "attendance-attention-prompt")
        shown = time.monotonic()
        paused_at = frames.credited()
        page.wait_for_timeout(3 * HEARTBEAT_SECONDS * 1000)
        assert frames.heartbeats(since=shown + 0.3) == []  # no heartbeats while asked
        assert frames.credited() == paused_at

        page.click("#attention-yes")
        expect(prompt).to_be_hidden()
        assert any(f.get("type") == "attention.answer" for _t, f in frames.sent)
        wait_until(page, lambda: frames.credited() > paused_at, 10, "credit did not resume")
    finally:
        page.context.close()


def test_the_organiser_dashboard_updates_live(
    server: str, browser: Browser, cadre: User, organiser: User, short_live_lecture: Lecture
) -> None:
    page = new_page(browser)
    page.context.add_cookies(
        [{"name": "sessionid", "value": session_cookie(organiser), "url": server}]
    )
    page.goto(f"{server}/lectures/{short_live_lecture.pk}/dashboard/")
    try:
        expect(page.locator("h1")).to_contain_text("实时大屏")
        expect(page.locator("#live-conn")).to_have_text("已连接", timeout=15_000)
        expect(page.locator("#stat-viewers")).to_have_text("1", timeout=10_000)
        room, _frames = open_room(browser, server, cadre, short_live_lecture)
        try:
            expect(page.locator("#stat-viewers")).to_have_text("2", timeout=10_000)
            # both in Hangzhou (the organiser's department and the cadre's township)
            hangzhou = page.locator("#dash-units tr", has_text="杭州市")
            expect(hangzhou.locator('[data-key="viewers"]')).to_have_text("2", timeout=10_000)
            expect(page.locator("#dash-series-empty")).to_be_hidden(timeout=10_000)
            expect(page.locator("#dash-waiting-empty")).to_be_visible()
        finally:
            room.context.close()
        screenshot(page, "attendance-dashboard")
        assert axe_violations(page) == []
    finally:
        page.context.close()
