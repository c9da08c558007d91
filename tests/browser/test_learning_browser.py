"""The learning record in Chromium on a 360 px phone (real daphne, production settings): a
cadre opens an ended lecture, takes its test (a wrong try, then a pass), rates the lecture
on the five indicators, sees the bonus in the study record and downloads the 学时证明;
the verify page says genuine. axe-core finds nothing serious on any of these pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from courses.models import Attendance, Lecture, Programme
from courses.services import enrolment_create
from learning.models import Evaluation, Quiz, QuizChoice, QuizQuestion
from portal.models import User
from tests.browser.conftest import PHONE, axe_violations, screenshot
from tests.browser.live_support import live_server_url, session_cookie
from tests.factories import LectureFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[str]:
    yield from live_server_url(redis_url, tmp_path)


def _quiz(lecture: Lecture) -> None:
    quiz = Quiz.objects.create(lecture=lecture, pass_percent=100, attempts_allowed=3)
    one = QuizQuestion.objects.create(
        quiz=quiz, position=1, kind="single", text="大模型的核心技术是？"
    )
    QuizChoice.objects.create(question=one, position=1, text="深度神经网络", correct=True)
    QuizChoice.objects.create(question=one, position=2, text="关系数据库")
    two = QuizQuestion.objects.create(
        quiz=quiz, position=2, kind="truefalse", text="生成内容须显著标识。"
    )
    QuizChoice.objects.create(question=two, position=1, text="正确", correct=True)
    QuizChoice.objects.create(question=two, position=2, text="错误")


def test_a_cadre_takes_the_test_rates_the_lecture_and_downloads_the_certificate(
    server: str, browser: Browser, cadre: User, programme: Programme, tmp_path: Path
) -> None:
    enrolment_create(user=cadre, programme=programme)
    start = timezone.localtime() - timedelta(hours=3)
    lecture = LectureFactory(programme=programme, sequence=1, starts_at=start, duration_minutes=90)
    Attendance.objects.create(
        user=cadre, lecture=lecture, live_seconds=90 * 60, completed=True, credit_hours_earned=2
    )
    _quiz(lecture)
    context = browser.new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, accept_downloads=True
    )
    context.add_cookies([{"name": "sessionid", "value": session_cookie(cadre), "url": server}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{server}/lectures/{lecture.pk}/")
        page.click("#quiz-link")
        expect(page.locator("h1")).to_have_text("随堂测验")
        page.click("#quiz-start")
        questions = page.locator("fieldset.quiz-question")
        expect(questions).to_have_count(2)
        assert axe_violations(page) == []
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the test page scrolls sideways ({width}px)"

        def answer(choices: dict[str, str]) -> None:
            for question, choice in choices.items():
                page.locator("fieldset.quiz-question", has_text=question).get_by_label(
                    choice
                ).check()
            page.click("#quiz-submit")

        answer({"核心技术": "关系数据库", "显著标识": "正确"})  # one wrong: 50 %, not passed
        expect(page.locator("#quiz-score")).to_contain_text("50%")
        expect(page.locator("#quiz-score")).to_contain_text("未通过")
        page.click("#quiz-start")  # 再试一次
        answer({"核心技术": "深度神经网络", "显著标识": "正确"})
        expect(page.locator("#quiz-score")).to_contain_text("100%")
        expect(page.locator("#quiz-passed")).to_be_visible()
        expect(page.locator("#quiz-start")).to_have_count(0)  # passed: no more attempts
        screenshot(page, "quiz-passed-phone")

        page.get_by_role("link", name="评课").click()
        expect(page.locator("h1")).to_have_text("评课")
        assert axe_violations(page) == []
        for indicator in ("现实针对性", "理论性", "信息量", "语言表达", "教风教态"):
            page.locator("fieldset.rating-row", has_text=indicator).get_by_label("非常满意").check()
        page.locator("fieldset.rating-row", has_text="理论性").get_by_label(
            "满意", exact=True
        ).check()
        page.fill("#evaluation-comment", "案例很实用")
        page.click("#evaluation-submit")
        expect(page.locator("#evaluation-saved")).to_be_visible()
        rating = Evaluation.objects.get(user=cadre, lecture=lecture)
        assert (rating.relevance, rating.theory, rating.comment) == (4, 3, "案例很实用")
        expect(page.locator("#evaluation-submit")).to_have_text("更新我的评价")
        screenshot(page, "evaluate-phone")

        page.goto(f"{server}/me/study/")
        expect(page.locator("#year-hours")).to_have_text("2.5")  # 2 + the test bonus
        assert axe_violations(page) == []
        with page.expect_download() as download_info:
            page.get_by_role("link", name="下载学时证明（PDF）").click()
        download = download_info.value
        assert download.suggested_filename.startswith("学时证明-")
        path = tmp_path / "cert.pdf"
        download.save_as(path)
        assert path.read_bytes().startswith(b"%PDF")
        serial = download.suggested_filename.removeprefix("学时证明-").removesuffix(".pdf")
        page.goto(f"{server}/verify/{serial}/")
        expect(page.locator("#verify-status")).to_have_text("真实有效")
        assert axe_violations(page) == []
    finally:
        context.close()
