"""The moderator console by keyboard alone (j/k/a/r/d/h) and the projector view showing the
highlighted question, on a real daphne with three Chromium contexts."""

from __future__ import annotations

from typing import Any

import pytest

from courses.services import enrolment_create
from tests.browser.conftest import screenshot
from tests.browser.live_support import live_server_url, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]

PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 900}


@pytest.fixture
def server(redis_url, tmp_path):
    # one asker puts three questions in quick succession
    yield from live_server_url(redis_url, tmp_path, {"LIVE_QUESTION_INTERVAL_SECONDS": "0"})


def test_moderator_keyboard_and_projector(server, browser, cadre, organiser, programme, lecture):
    from playwright.sync_api import expect

    enrolment_create(user=cadre, programme=programme)
    room = f"{server}/lectures/{lecture.pk}/live/"
    pages: list[Any] = []
    try:
        asker = signed_in_page(browser, server, cadre, room, PHONE)
        mod = signed_in_page(browser, server, organiser, room, DESK)
        screen = signed_in_page(
            browser, server, organiser, f"{server}/lectures/{lecture.pk}/screen/", DESK
        )
        pages += [asker, mod, screen]
        for page in pages:
            expect(page.locator("#live-conn")).to_have_text("已连接", timeout=10_000)
            assert len(page.opened_sockets) == 1, page.opened_sockets  # the room starts once
        expect(screen.locator("#screen-empty")).not_to_be_empty()

        texts = ["第一问：算力从哪里来?", "第二问：数据安全怎么管?", "第三问：基层怎么学?"]
        mine = asker.locator("#question-list li.pending")
        for i, text in enumerate(texts):
            asker.fill("#ask-text", text)
            asker.click("#ask-send")
            expect(mine).to_have_count(i + 1)  # each ask is answered before the next
            expect(asker.locator("#ask-status")).to_contain_text("审核通过后")
        queue = mod.locator("#queue-list .queue-item")
        expect(queue).to_have_count(3, timeout=10_000)
        expect(mod.locator("#queue-count")).to_have_text("3")

        # j / k move the selection; the selected row is marked.
        selected = mod.locator("#queue-list .queue-item.selected .q-text")
        expect(selected).to_have_text(texts[0])
        mod.locator("body").press("j")
        expect(selected).to_have_text(texts[1])
        mod.locator("body").press("j")
        mod.locator("body").press("k")
        expect(selected).to_have_text(texts[1])

        # a approves the selected one; the asker sees it without a reload.
        mod.locator("body").press("a")
        published = asker.locator("#question-list li.question:not(.pending) .q-text")
        expect(published).to_have_text([texts[1]], timeout=10_000)
        expect(queue).to_have_count(2)

        # r rejects with a reason (asked in a prompt); the asker is told the reason.
        # (the selection keeps its place: the row after the approved one)
        mod.once("dialog", lambda dialog: dialog.accept("与本讲主题无关"))
        expect(selected).to_have_text(texts[2])
        mod.locator("body").press("r")
        expect(asker.locator("#ask-status")).to_contain_text("与本讲主题无关", timeout=10_000)
        expect(queue).to_have_count(1)

        # h highlights the newest published question: the projector shows it large.
        mod.locator("body").press("h")
        expect(screen.locator("#screen-text")).to_have_text(texts[1], timeout=10_000)
        expect(screen.locator("#screen-empty")).to_be_empty()
        expect(screen.locator("#live-viewers")).to_contain_text("人在线")  # text, no emoji
        font = screen.locator("#screen-text").evaluate(
            "el => parseFloat(getComputedStyle(el).fontSize)"
        )
        assert font >= 28, f"projector text is {font}px"
        screenshot(screen, "projector-highlighted")

        # d marks the selected pending question answered: it is published as answered.
        mod.locator("body").press("d")
        expect(queue).to_have_count(0, timeout=10_000)
        answered = asker.locator("#question-list li.question", has_text=texts[0])
        expect(answered.locator(".tag-answered")).to_have_count(1, timeout=10_000)
        expect(mod.locator("#queue-empty")).to_have_text("暂无待审核的问题。")

        # keys typed into the ask box are text, not shortcuts
        mod.fill("#ask-text", "")
        mod.locator("#ask-text").press("a")
        expect(mod.locator("#ask-text")).to_have_value("a")
    finally:
        for page in pages:
            page.context.close()
