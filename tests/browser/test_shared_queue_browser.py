"""Two moderators share one queue (issue 19): a claim by one shows as taken for the other
within a second, merging near-duplicates tells each asker, the speaker's list is ordered in
one console and followed by the other and by the speaker's view; axe clean. Real daphne,
Redis and Chromium."""

from __future__ import annotations

import time
from typing import Any

import pytest

from courses.services import enrolment_create
from tests.browser.conftest import axe_violations, screenshot
from tests.browser.live_support import live_server_url, signed_in_page
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]

PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 900}
SAME = (
    "脑机接口什么时候能用于帕金森患者？",
    "老师您好，脑机接口何时可以用于帕金森病人",
    "腦機接口什麼時候能用於帕金森患者",
)
OTHER = "大模型在基层治理中有哪些应用场景？"


@pytest.fixture
def server(redis_url, tmp_path):
    yield from live_server_url(
        redis_url,
        tmp_path,
        {"LIVE_QUESTION_INTERVAL_SECONDS": "0", "LIVE_QUEUE_INTERVAL_SECONDS": "0.3"},
    )


def test_two_moderators_share_the_queue_and_order_the_speakers_list(
    server, browser, tree, organiser, programme, lecture
):
    from playwright.sync_api import expect

    named_moderator = UserFactory(username="host", full_name="主持人", unit=tree.haishu)
    lecture.moderators.add(named_moderator)
    askers = []
    for i in range(3):
        user = UserFactory(username=f"asker{i}", full_name=f"提问者{i}", unit=tree.lingyin)
        enrolment_create(user=user, programme=programme)
        askers.append(user)
    room = f"{server}/lectures/{lecture.pk}/live/"
    pages: list[Any] = []
    try:
        asking = [signed_in_page(browser, server, u, room, PHONE) for u in askers]
        first = signed_in_page(browser, server, organiser, room, DESK)
        second = signed_in_page(browser, server, named_moderator, room, DESK)
        pages += [*asking, first, second]
        for page in pages:
            expect(page.locator("#live-conn")).to_have_text("已连接", timeout=10_000)

        for page, text in zip(asking, SAME, strict=True):
            page.fill("#ask-text", text)
            page.click("#ask-send")
            expect(page.locator("#question-list li.pending")).to_have_count(1)
        asking[0].fill("#ask-text", OTHER)
        asking[0].click("#ask-send")
        expect(asking[0].locator("#question-list li.pending")).to_have_count(2)

        # both consoles: four questions, the three paraphrases together and marked similar
        for console in (first, second):
            items = console.locator("#queue-list .queue-item")
            expect(items).to_have_count(4, timeout=10_000)
            expect(items.locator(".q-text")).to_have_text([*SAME, OTHER])
            expect(items.nth(1).locator(".tag-cluster")).to_have_text("相似 ×3")

        # a claim in one console shows as taken in the other within a second
        def item(console: Any, text: str) -> Any:
            return console.locator("#queue-list .queue-item", has_text=text)

        started = time.monotonic()
        item(first, SAME[1]).get_by_role("button", name="认领", exact=True).click()
        taken = item(second, SAME[1]).locator(".tag-claimed")
        expect(taken).to_have_text(f"{organiser.display_name} 处理中", timeout=1_000)
        seen_after = time.monotonic() - started
        assert seen_after < 1.0, f"the claim took {seen_after:.2f} s to show"
        expect(item(first, SAME[1]).locator(".tag-claimed")).to_have_text("我处理中")
        expect(
            item(second, SAME[1]).get_by_role("button", name="通过", exact=True)
        ).to_be_disabled()
        expect(second.locator("#queue-list .queue-item.claimed")).to_have_count(1)
        second.select_option("#queue-filter", "free")  # the other's questions, filtered out
        expect(second.locator("#queue-list .queue-item")).to_have_count(3)
        expect(second.locator("#queue-shown")).to_have_text("显示 3 / 共 4")
        second.select_option("#queue-filter", "all")
        assert axe_violations(second) == []

        # each moderator merges a paraphrase into the first; each asker is told
        item(first, SAME[1]).get_by_role("button", name="合并到首问").click()
        item(second, SAME[2]).get_by_role("button", name="合并到首问").click()
        for page in asking[1:]:
            expect(page.locator("#ask-status")).to_have_text(
                f"你的问题已合并到：{SAME[0]}", timeout=10_000
            )
            expect(page.locator("#question-list li.pending")).to_have_count(0)
        for console in (first, second):
            expect(console.locator("#queue-list .queue-item")).to_have_count(2, timeout=10_000)

        # both published; the first console puts them on the speaker's list, then reorders
        item(first, SAME[0]).get_by_role("button", name="通过", exact=True).click()
        item(first, OTHER).get_by_role("button", name="通过", exact=True).click()
        published = first.locator("#question-list li.question:not(.pending)")
        expect(published).to_have_count(2, timeout=10_000)
        for text in (SAME[0], OTHER):
            add = published.filter(has_text=text).get_by_role("button", name="加入主讲人清单")
            add.click()
            expect(add).to_have_count(0)  # it now says it is on the list
        listed = first.locator("#console-speaker-list li .q-text")
        expect(listed).to_have_text([SAME[0], OTHER], timeout=10_000)
        first.locator("#console-speaker-list li", has_text=OTHER).get_by_role(
            "button", name="上移"
        ).click()
        for console in (first, second):
            expect(console.locator("#console-speaker-list li .q-text")).to_have_text(
                [OTHER, SAME[0]], timeout=10_000
            )
        assert axe_violations(first) == []

        # the speaker's view shows the list in order; N in the other console puts the next
        # one on screen there and on the projector
        speaker = signed_in_page(
            browser, server, organiser, f"{server}/lectures/{lecture.pk}/speaker/", DESK
        )
        projector = signed_in_page(
            browser, server, organiser, f"{server}/lectures/{lecture.pk}/screen/", DESK
        )
        pages += [speaker, projector]
        expect(speaker.locator("#live-conn")).to_have_text("已连接", timeout=10_000)
        expect(speaker.locator("#speaker-list li .q-text")).to_have_text([OTHER, SAME[0]])
        expect(speaker.locator("#speaker-list li").first.locator(".q-author")).to_contain_text(
            "提问者0"
        )
        expect(speaker.locator("#screen-empty")).not_to_be_empty()
        second.locator("body").press("n")
        expect(speaker.locator("#screen-text")).to_have_text(OTHER, timeout=10_000)
        expect(projector.locator("#screen-text")).to_have_text(OTHER, timeout=10_000)
        expect(speaker.locator("#speaker-list li.current .q-text")).to_have_text(OTHER)
        # N again: that one answered and off the list, the next on screen
        second.locator("body").press("n")
        expect(speaker.locator("#screen-text")).to_have_text(SAME[0], timeout=10_000)
        expect(speaker.locator("#speaker-list li .q-text")).to_have_text([SAME[0]])
        assert axe_violations(speaker) == []
        screenshot(speaker, "speaker-view")
        screenshot(first, "moderator-shared-queue")
    finally:
        for page in pages:
            page.context.close()
