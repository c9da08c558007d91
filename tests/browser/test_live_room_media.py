"""The live room in Chromium on a real daphne: the sample live HLS stream plays through
hls.js (the video's currentTime advances), and the page has no serious or critical axe-core
violations on a desktop or a 360x740 phone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, ViewportSize, expect

from courses.models import Lecture
from courses.services import enrolment_create
from portal.models import User
from tests.browser.conftest import axe_violations, new_page, screenshot
from tests.livestream.servers import daphne, production_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _cookie(user: User) -> str:
    client = HttpClient()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def server(redis_url: str, tmp_path: Any) -> Iterator[str]:
    env = production_env(
        redis_url=redis_url,
        prefix=f"zxm:{uuid.uuid4().hex[:8]}:",
        extra={"DEBUG": "true"},  # static files (hls.js, the demo segments) from the app
    )
    with daphne(env, log=tmp_path / "daphne.log") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def live_lecture(lecture: Lecture) -> Lecture:
    lecture.starts_at = timezone.now() - timedelta(minutes=5)
    lecture.duration_minutes = 90
    lecture.stream_url = reverse("demo:live_playlist")
    lecture.save()
    assert lecture.status == "live"
    return lecture


def open_room(
    browser: Browser, server: str, user: User, lecture: Lecture, viewport: ViewportSize
) -> Page:
    page = new_page(browser, viewport)
    page.context.add_cookies([{"name": "sessionid", "value": _cookie(user), "url": server}])
    page.goto(f"{server}/lectures/{lecture.pk}/live/")
    expect(page.locator("#live-conn")).to_have_text("已连接", timeout=15_000)
    return page


def test_sample_hls_stream_plays_in_the_room(
    server: str, browser: Browser, cadre: User, programme: Any, live_lecture: Lecture
) -> None:
    enrolment_create(user=cadre, programme=programme)
    page = open_room(browser, server, cadre, live_lecture, {"width": 1280, "height": 900})
    try:
        video = page.locator("#live-video")
        # hls.js through MSE, or the browser's own HLS where it has one (recent Chromium
        # answers canPlayType("application/vnd.apple.mpegurl") itself): either way a source
        page.wait_for_function(
            "() => { const v = document.getElementById('live-video');"
            " return v && (v.currentSrc || v.src); }",
            timeout=15_000,
        )
        # muted autoplay is allowed everywhere; start it as a viewer's click would
        page.evaluate(
            "() => { const v = document.getElementById('live-video');"
            " v.muted = true; return v.play().catch(() => null); }"
        )
        page.wait_for_function(
            "() => document.getElementById('live-video').currentTime > 0.5", timeout=30_000
        )
        first = float(video.evaluate("v => v.currentTime"))
        page.wait_for_timeout(1500)
        later = float(video.evaluate("v => v.currentTime"))
        state = video.evaluate(
            "v => ({paused: v.paused, error: v.error && v.error.code,"
            " w: v.videoWidth, h: v.videoHeight})"
        )
        assert later > first + 0.5, (first, later, state)
        assert state["error"] is None
        assert not state["paused"]
        # hls.js is fetched only by a browser without native HLS (livestream.js loads it)
        native, loaded = page.evaluate(
            "() => [document.getElementById('live-video')"
            ".canPlayType('application/vnd.apple.mpegurl') !== '', !!window.Hls]"
        )
        assert loaded != native, (native, loaded)
        assert state["w"] > 0 and state["h"] > 0  # H.264 decoded, not just audio
        assert page.locator("#player-overlay").is_hidden()
    finally:
        page.context.close()


@pytest.mark.parametrize(
    "size",
    [{"width": 1280, "height": 900}, {"width": 360, "height": 740}],
    ids=["desktop", "phone"],
)
@pytest.mark.parametrize("who", ["cadre", "moderator"])
def test_room_page_has_no_serious_axe_violations(
    server: str,
    browser: Browser,
    cadre: User,
    organiser: User,
    programme: Any,
    live_lecture: Lecture,
    size: ViewportSize,
    who: str,
) -> None:
    enrolment_create(user=cadre, programme=programme)
    user = cadre if who == "cadre" else organiser
    page = open_room(browser, server, user, live_lecture, size)
    try:
        # a question on the list, so its markup (vote button, badges) is checked too
        page.fill("#ask-text", "基层如何用好人工智能?")
        page.click("#ask-send")
        expect(page.locator("#ask-status")).not_to_be_empty()
        page.wait_for_timeout(300)
        screenshot(page, f"live-room-{who}-{size['width']}")
        assert axe_violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    finally:
        page.context.close()
