"""A cadre signs in, finds the programme in the catalogue, enrols and opens a lecture.

Runs on a desktop and on a 360×740 phone viewport; axe-core finds no serious or critical
accessibility violations on the pages visited.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import ViewportSize
from pytest_django.live_server_helper import LiveServer

from courses.models import Enrolment, Programme
from portal.models import User
from tests.browser.conftest import axe_violations, new_page, screenshot, sign_in
from tests.factories import LectureFactory, SpeakerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cadre_finds_enrols_and_opens_a_lecture(
    browser: object,
    live_server: LiveServer,
    cadre: User,
    programme: Programme,
    viewport: ViewportSize,
) -> None:
    programme.title = "人工智能通识及应用网络专题培训"
    programme.save(update_fields=["title"])
    lecture = LectureFactory(
        programme=programme,
        sequence=1,
        title="人工智能新浪潮",
        starts_at=timezone.now() + timedelta(days=2),
    )
    lecture.speakers.add(SpeakerFactory(name="张亚勤", title="中国工程院院士"))
    page = new_page(browser, viewport)  # type: ignore[arg-type]
    tag = "phone" if viewport["width"] < 500 else "desktop"

    sign_in(page, live_server.url, "13812345678")
    assert page.url.rstrip("/") == live_server.url.rstrip("/")
    assert page.locator("h1").inner_text().endswith("您好")
    assert axe_violations(page) == []

    page.click("text=课程目录")
    page.fill("#id_q", "人工智能")
    page.click("button:has-text('筛选')")
    assert page.locator(".lecture-title", has_text="人工智能新浪潮").count() == 1
    assert axe_violations(page) == []
    screenshot(page, f"catalogue-{tag}")
    # Nothing is wider than the phone screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1

    page.click(".programme-title:has-text('人工智能通识及应用网络专题培训')")
    page.click("#enrol-button")
    page.wait_for_load_state("networkidle")
    assert "您已成功报名" in page.locator(".messages").inner_text()
    assert Enrolment.objects.filter(user=cadre, programme=programme, status="active").exists()

    page.click("text=人工智能新浪潮")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "人工智能新浪潮"
    body = page.locator("main").inner_text()
    assert "张亚勤" in body and "北京时间" in body
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
    screenshot(page, f"lecture-{tag}")
    page.context.close()


def test_outsider_sees_a_chinese_refusal(
    browser: object, live_server: LiveServer, outsider: User, programme: Programme
) -> None:
    page = new_page(browser)  # type: ignore[arg-type]
    sign_in(page, live_server.url, "outsider")
    response = page.goto(f"{live_server.url}/programmes/{programme.pk}/")
    assert response is not None and response.status == 403
    assert "其他单位" in page.locator("main").inner_text()
    page.context.close()
