"""Two Chromium pages on a real daphne: the cadre asks, the moderator approves, the cadre's
page shows the question without a reload; a phone-sized viewport works."""

from __future__ import annotations

from typing import Any

import pytest

from courses.services import enrolment_create
from tests.browser.live_support import live_server_url, session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def server(redis_url, tmp_path):
    yield from live_server_url(redis_url, tmp_path)


def test_cadre_asks_moderator_approves_cadre_sees_it(
    server, browser, cadre, organiser, programme, lecture
):
    from playwright.sync_api import expect

    enrolment_create(user=cadre, programme=programme)
    cookies = {"cadre": session_cookie(cadre), "mod": session_cookie(organiser)}
    url = f"{server}/lectures/{lecture.pk}/live/"
    contexts = []
    try:
        pages = {}
        sizes: list[tuple[str, Any]] = [
            ("cadre", {"width": 360, "height": 740}),
            ("mod", {"width": 1280, "height": 900}),
        ]
        for who, size in sizes:
            context = browser.new_context(viewport=size, locale="zh-CN")
            contexts.append(context)
            context.add_cookies([{"name": "sessionid", "value": cookies[who], "url": server}])
            page = context.new_page()
            page.goto(url)
            expect(page.locator("#live-conn")).to_have_text("已连接", timeout=10_000)
            pages[who] = page
        cadre_page, mod_page = pages["cadre"], pages["mod"]

        # phone viewport: no horizontal scrolling
        width = cadre_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360

        question = "<b>基层</b>如何用好 AI?"
        cadre_page.fill("#ask-text", question)
        expect(cadre_page.locator("#ask-count")).to_have_text(f"{len(question)}/300")
        cadre_page.click("#ask-send")
        expect(cadre_page.locator("#ask-status")).to_contain_text("审核通过后")
        expect(cadre_page.locator("#question-list .pending .q-text")).to_have_text(question)

        item = mod_page.locator("#queue-list .queue-item").first
        expect(item.locator(".q-text")).to_have_text(question, timeout=10_000)
        item.get_by_role("button", name="通过", exact=True).click()

        published = cadre_page.locator("#question-list li.question:not(.pending)")
        expect(published.locator(".q-text")).to_have_text(question, timeout=10_000)
        assert cadre_page.locator("#question-list b").count() == 0  # text, never HTML
        expect(mod_page.locator("#queue-empty")).to_have_text("暂无待审核的问题。")

        # an upvote from the cadre reaches the moderator's page (coalesced count)
        published.locator("button.vote").click()
        expect(mod_page.locator("#question-list button.vote .vote-count")).to_have_text(
            "1", timeout=10_000
        )
    finally:
        for context in contexts:
            context.close()
