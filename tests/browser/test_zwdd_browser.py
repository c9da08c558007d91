"""浙政钉 sign-in in Chromium against the fake platform: redirect mode and the embedded QR
frame (postMessage, origin checked), on a desktop and a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ViewportSize
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from courses.models import Lecture
from courses.services import enrolment_create
from portal.models import User
from tests.browser.conftest import axe_violations, new_page, screenshot
from tests.conftest import Zwdd

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_scan_in_redirect_mode_signs_in(
    browser: Browser, live_server: LiveServer, zwdd_sso: Zwdd, zwdd_cadre: User
) -> None:
    page = new_page(browser)
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("#zwdd-redirect")
    page.wait_for_url(f"{zwdd_sso.login.url}/oauth2/auth.htm*")
    page.click("a.confirm[data-account='10001']")  # the cadre confirms on the phone
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text().endswith("您好")
    page.context.close()


def test_embedded_qr_posts_the_code_and_only_the_platform_may(
    browser: Browser,
    live_server: LiveServer,
    zwdd_sso: Zwdd,
    zwdd_cadre: User,
    viewport: ViewportSize,
) -> None:
    page = new_page(browser, viewport)
    tag = "phone" if viewport["width"] < 500 else "desktop"
    page.goto(f"{live_server.url}/accounts/login/?next=/notifications/")
    qr = page.frame_locator("#zwdd-qr")
    qr.locator("button.confirm").first.wait_for()
    assert page.locator("#zwdd-signin h2").inner_text() == "浙政钉扫码登录"
    assert axe_violations(page) == []
    screenshot(page, f"signin-zwdd-{tag}")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1

    # A message from anywhere but the platform's frame is ignored; a marker message sent
    # after it shows the handler has run.
    page.evaluate(
        """() => new Promise(resolve => {
            window.addEventListener("message", e => { if (e.data === "marker") resolve(); });
            window.postMessage({code: "forged", state: "forged"}, "*");
            window.postMessage("marker", "*");
        })"""
    )
    assert page.url.endswith("/accounts/login/?next=/notifications/")
    assert not zwdd_sso.api.calls("/rpc/oauth2/getuserinfo_bycode.json")

    qr.locator("button.confirm[data-account='10001']").click()
    page.wait_for_url(f"{live_server.url}/notifications/")
    assert len(zwdd_sso.api.calls("/rpc/oauth2/getuserinfo_bycode.json")) == 1
    page.context.close()


def test_unmatched_cadre_sees_the_contact_page_in_the_browser(
    browser: Browser, live_server: LiveServer, zwdd_sso: Zwdd, cadre: User
) -> None:
    zwdd_sso.api.add_user("20002", employee_code="GE_NOBODY", name="王五")
    page = new_page(browser)
    page.goto(f"{live_server.url}/accounts/login/")
    page.frame_locator("#zwdd-qr").locator("button.confirm[data-account='20002']").click()
    page.wait_for_url(f"{live_server.url}/accounts/zwdd/login/callback/*")
    assert page.locator("h1").inner_text() == "未找到您的干部档案"
    assert axe_violations(page) == []
    page.context.close()


def test_in_the_zwdd_app_the_notice_link_opens_the_live_room_signed_in(
    browser: Browser,
    live_server: LiveServer,
    zwdd_sso: Zwdd,
    zwdd_cadre: User,
    lecture: Lecture,
    settings: SettingsWrapper,
) -> None:
    enrolment_create(user=zwdd_cadre, programme=lecture.programme)
    settings.ZWDD_JSAPI_URL = f"{zwdd_sso.login.url}/jsapi.js"
    zwdd_sso.login.app_account = "10001"
    context = browser.new_context(
        user_agent="Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile TaurusApp/2.9.0",
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    room = f"/lectures/{lecture.pk}/live/"
    page.goto(f"{live_server.url}{room}")  # the link of the work notice
    page.wait_for_url(f"{live_server.url}{room}")
    assert len(zwdd_sso.api.calls("/rpc/oauth2/dingtalk_app_user.json")) == 1
    assert page.locator("#live-title").inner_text() == lecture.title  # in the room, signed in
    context.close()
