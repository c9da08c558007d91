"""The discussion pages in Chromium on a real daphne (production settings, Redis): a study
group's thread updates live in its members' pages (a post, a like, a moderator hiding a
post), non-members are refused on the page, the JSON API and the socket, and the thread
page works on a 360 px phone without an accessibility issue axe-core calls serious."""

# ruff: noqa: F811
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, ViewportSize, expect

from discussion import services
from discussion.models import Post, StudyGroup
from portal.models import User
from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot
from tests.browser.live_support import live_server_url, session_cookie
from tests.discussion.conftest import (  # noqa: F401 (fixtures)
    access_of,
    ended_lecture,
    group,
    lecture_thread,
    member,
    member2,
)
from tests.livestream.conftest import viewer, viewer2  # noqa: F401 (member and member2)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]

LIVE_MS = 2_000  # what "live" means here: on the other page within two seconds

# The page's socket is open and its hello sent (the status line shows the page's own
# "connected" text, whatever the translation).
CONNECTED = """() => {
  const cfg = JSON.parse(document.getElementById("discussion-config").textContent);
  return document.getElementById("disc-conn").textContent === cfg.messages.connected;
}"""

# Opens a space's socket from the page and says hello as the page's script does (without
# a seq: the server answers with a state); resolves with the first frame's type, or with
# the close code if the server closes first.
SOCKET_HELLO = """(path) => new Promise((resolve) => {
  const ws = new WebSocket("ws://" + location.host + path);
  ws.onopen = () => ws.send(JSON.stringify({type: "hello"}));
  ws.onmessage = (ev) => { resolve({frame: JSON.parse(ev.data).type}); ws.close(1000); };
  ws.onclose = (ev) => resolve({closed: ev.code});
})"""


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[str]:
    yield from live_server_url(redis_url, tmp_path)


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """The browser contexts a test opens (one per person), closed after it."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def new_page_as(
    contexts: list[BrowserContext],
    browser: Browser,
    server: str,
    user: User,
    viewport: ViewportSize = DESKTOP,
) -> Page:
    """A page in a new context signed in as ``user``."""
    phone = viewport["width"] < 500
    context = browser.new_context(
        viewport=viewport,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        is_mobile=phone,
        has_touch=phone,
    )
    contexts.append(context)
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": server}])
    return context.new_page()


def open_as(
    contexts: list[BrowserContext],
    browser: Browser,
    server: str,
    user: User,
    path: str,
    viewport: ViewportSize = DESKTOP,
) -> Page:
    """A discussion page of ``user``'s, its socket connected."""
    page = new_page_as(contexts, browser, server, user, viewport)
    response = page.goto(server + path)
    assert response is not None and response.status == 200, path
    page.wait_for_function(CONNECTED, timeout=10_000)
    return page


def test_posts_likes_and_hiding_reach_the_other_pages_live(
    server: str,
    browser: Browser,
    contexts: list[BrowserContext],
    group: StudyGroup,
    member: User,
    member2: User,
    school_staff: User,
) -> None:
    thread = lecture_thread(group)
    path = f"/discussion/threads/{thread.pk}/"
    a = open_as(contexts, browser, server, member, path)
    b = open_as(contexts, browser, server, member2, path)
    mod = open_as(contexts, browser, server, school_staff, path)
    for page in (a, b, mod):
        expect(page.locator("#post-list li.post")).to_have_count(0)
    expect(mod.locator("#thread-pin")).to_be_visible()  # the moderator's tools
    expect(a.locator("#thread-pin")).to_have_count(0)

    # A posts; B's (and the moderator's) page shows it without a reload.
    b.evaluate("window.__sameDocument = true")
    text = "基层治理要多听群众的意见。\n第二行 https://example.com/a?b=1"
    a.fill("#post-text", text)
    expect(a.locator("#post-count")).to_have_text(f"{len(text)}/2000")
    a.click("#post-send")
    expect(a.locator("#post-text")).to_have_value("")
    post = Post.objects.get(thread=thread, author=member)
    item = f"#post-{post.pk}"
    expect(a.locator(item)).to_have_count(1)
    for page in (b, mod):
        expect(page.locator(f"{item} .post-text")).to_have_text(text, timeout=LIVE_MS)
        expect(page.locator(f"{item} .post-author")).to_have_text(member.display_name)
        link = page.locator(f"{item} .post-text a")
        expect(link).to_have_attribute("href", "https://example.com/a?b=1")
    assert b.evaluate("window.__sameDocument") is True
    expect(a.locator(f"{item} button.report")).to_have_count(0)  # not one's own post
    expect(b.locator(f"{item} button.report")).to_have_count(1)
    expect(b.locator(f"{item} button.hide")).to_have_count(0)  # members do not moderate

    # B likes it; A's count follows.
    b.click(f"{item} button.like")
    expect(b.locator(f"{item} button.like")).to_have_attribute("aria-pressed", "true")
    expect(b.locator(f"{item} button.like")).to_have_text(re.compile(r"\s1$"))
    expect(a.locator(f"{item} button.like")).to_have_text(re.compile(r"\s1$"), timeout=LIVE_MS)
    expect(a.locator(f"{item} button.like")).to_have_attribute("aria-pressed", "false")
    expect(mod.locator(f"{item} button.like")).to_have_text(re.compile(r"\s1$"), timeout=LIVE_MS)

    # The moderator hides it (the reason through the page's prompt): it leaves B's page,
    # and A's shows the reason.
    reason = "与本讲主题无关"
    prompts: list[str] = []

    def answer(dialog: Dialog) -> None:
        prompts.append(dialog.type)
        dialog.accept(reason)

    mod.once("dialog", answer)
    mod.click(f"{item} button.hide")
    expect(b.locator(item)).to_have_count(0, timeout=LIVE_MS)
    expect(a.locator(f"{item} .post-note")).to_contain_text(reason, timeout=LIVE_MS)
    assert prompts == ["prompt"]
    expect(a.locator(item)).to_have_class(re.compile(r"\bis-hidden\b"))
    expect(a.locator(f"{item} button.like")).to_have_count(0)
    expect(mod.locator(f"{item} button.restore")).to_have_count(1)
    expect(mod.locator(f"{item} .post-note")).to_contain_text(reason)  # moderators see why
    expect(b.locator("#post-empty")).to_be_visible()
    post.refresh_from_db()
    assert (post.status, post.hidden_reason, post.hidden_by_id) == (
        Post.Status.HIDDEN,
        reason,
        school_staff.pk,
    )
    # what a reload shows agrees with the live pages
    b.reload()
    b.wait_for_function(CONNECTED)
    expect(b.locator("#post-list li.post")).to_have_count(0)
    a.reload()
    expect(a.locator(f"{item} .post-note")).to_contain_text(reason)


def test_non_members_are_refused_on_the_page_the_api_and_the_socket(
    server: str,
    browser: Browser,
    contexts: list[BrowserContext],
    group: StudyGroup,
    member: User,
    outsider: User,
) -> None:
    thread = lecture_thread(group)
    services.post_create(
        access=access_of(member, group), thread_id=thread.pk, text="仅限群成员", client_id="m1"
    )
    page = new_page_as(contexts, browser, server, outsider)
    response = page.goto(f"{server}/discussion/threads/{thread.pk}/")
    assert response is not None and response.status == 403
    assert "仅限群成员" not in page.content()
    group_page = page.context.request.get(f"{server}/groups/{group.pk}/")
    assert group_page.status == 403

    api = page.context.request.get(f"{server}/api/discussion/threads/{thread.pk}/posts/")
    assert api.status == 403
    assert api.headers["content-type"].startswith("application/json")
    assert api.json()["error"]["code"] == "forbidden"
    assert "仅限群成员" not in api.text()

    socket = f"/ws/discussion/{thread.space_id}/"
    assert page.evaluate(SOCKET_HELLO, socket) == {"closed": 4403}

    # the same socket answers a member (the refusal is about the person, not the path)
    mine = new_page_as(contexts, browser, server, member)
    mine.goto(f"{server}/groups/")
    assert mine.evaluate(SOCKET_HELLO, socket) == {"frame": "state"}


def test_thread_page_on_a_phone(
    server: str,
    browser: Browser,
    contexts: list[BrowserContext],
    group: StudyGroup,
    member: User,
    member2: User,
    school_staff: User,
) -> None:
    thread = lecture_thread(group)
    theirs = access_of(member2, group)
    long_url = "https://example.com/" + "a" * 180
    first = services.post_create(
        access=theirs,
        thread_id=thread.pk,
        text="很长的链接不应撑宽页面：" + long_url + " 以及" + "长" * 300,
        client_id="p1",
    ).post
    services.post_create(
        access=theirs,
        thread_id=thread.pk,
        text="回复：" + "x" * 120,
        client_id="p2",
        parent_id=first.pk,
    )
    mine = services.post_create(
        access=access_of(member, group), thread_id=thread.pk, text="我的帖子", client_id="p3"
    ).post
    services.post_moderate(
        access=access_of(school_staff, group), post_id=mine.pk, action="hide", reason="重复"
    )
    services.post_like(access=access_of(member, group), post_id=first.pk, up=True)

    for who, user, posts in (("member", member, 3), ("moderator", school_staff, 4)):
        page = open_as(contexts, browser, server, user, f"/discussion/threads/{thread.pk}/", PHONE)
        expect(page.locator("#post-list li.post")).to_have_count(posts)
        expect(page.locator("#post-form")).to_be_visible()
        expect(page.locator("#post-text")).to_be_visible()
        expect(page.locator("#post-send")).to_be_visible()
        page.locator("#post-send").scroll_into_view_if_needed()
        box = page.locator("#post-send").bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        if who == "member":
            expect(page.locator(f"#post-{mine.pk} .post-note")).to_contain_text("重复")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"{who}: {width}px wide"
        assert axe_violations(page) == [], who
        screenshot(page, f"discussion-thread-phone-{who}")
        if who == "member":  # the form works with taps
            page.tap("#post-text")
            page.keyboard.type("手机上发帖")
            expect(page.locator("#post-count")).to_have_text("5/2000")
            page.tap("#post-send")
            expect(page.locator("#post-list li.post")).to_have_count(4)
            expect(page.locator("#post-list li.post").last).to_contain_text("手机上发帖")
