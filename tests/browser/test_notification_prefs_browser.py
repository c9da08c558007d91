"""A cadre on a 360 px phone opens the notice settings from the inbox, orders the channels,
opts out of a programme and sees the masked bindings; axe finds nothing serious."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from courses.models import Programme
from notifications.models import ChannelBinding, NotifyPreference, ProgrammeOptOut
from portal.models import User
from tests.browser.conftest import PHONE, axe_violations, new_page, screenshot, sign_in
from tests.factories import EnrolmentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cadre_sets_notice_preferences_on_a_phone(
    browser: object,
    live_server: LiveServer,
    cadre: User,
    programme: Programme,
    settings: Settings,
) -> None:
    settings.NOTIFY_CHANNELS = ["dingtalk", "wechat", "sms"]
    programme.title = "人工智能通识及应用网络专题培训"
    programme.save(update_fields=["title"])
    EnrolmentFactory(user=cadre, programme=programme)
    ChannelBinding.objects.create(
        user=cadre, channel="dingtalk", address="manager4711", verified=True
    )
    page = new_page(browser, PHONE)  # type: ignore[arg-type]

    sign_in(page, live_server.url, "13812345678")
    page.goto(f"{live_server.url}/inbox/")
    page.click("text=通知设置")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "通知设置"
    body = page.locator("main").inner_text()
    assert "man****711" in body and "138****5678" in body
    assert "manager4711" not in body and "13812345678" not in body
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1

    # the same channel twice: a Chinese error, nothing saved
    page.select_option("#id_choice_1", "sms")
    page.select_option("#id_choice_2", "sms")
    page.click("button:has-text('保存')")
    page.wait_for_load_state("networkidle")
    assert "每个渠道只能选择一次" in page.locator("[role=alert]").inner_text()
    assert not NotifyPreference.objects.filter(user=cadre).exists()
    assert axe_violations(page) == []

    page.select_option("#id_choice_1", "sms")
    page.select_option("#id_choice_2", "dingtalk")
    page.check("label:has-text('人工智能通识及应用网络专题培训')")
    page.click("button:has-text('保存')")
    page.wait_for_load_state("networkidle")
    assert "通知设置已保存" in page.locator(".messages").inner_text()
    assert "站内信 → 短信 → 钉钉" in page.locator("main").inner_text()
    screenshot(page, "notice-preferences-phone")
    assert axe_violations(page) == []

    assert NotifyPreference.objects.get(user=cadre).channel_order == "sms,dingtalk"
    assert ProgrammeOptOut.objects.filter(user=cadre, programme=programme).exists()
