"""随堂测验 (issue 18 §2): answers checked on the server and never sent before submission,
attempts and the pass mark enforced, a submission counted once even when sent at once from
two places, the pass bonus in the credit (within the cap), the item analysis, XLSX import."""

from __future__ import annotations

import io
import re
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from courses.attendance.credit import attendance_study_record
from courses.models import Attendance, Lecture, Programme, StudyHourRule
from courses.services import enrolment_create
from learning.models import Quiz, QuizAttempt, QuizChoice, QuizQuestion, QuizResponse
from learning.quizzes import (
    QuizError,
    QuizErrorCode,
    QuizImportError,
    quiz_attempt_start,
    quiz_attempt_submit,
    quiz_import_xlsx,
    quiz_item_analysis,
    quiz_xlsx_parse,
)
from portal.models import User
from tests.factories import LectureFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended(programme: Programme) -> Lecture:
    return LectureFactory(
        programme=programme, sequence=1, starts_at=timezone.now() - timedelta(hours=3)
    )


def _make_quiz(lecture: Lecture, **kwargs: Any) -> tuple[Quiz, dict[str, Any]]:
    quiz = Quiz.objects.create(lecture=lecture, **kwargs)
    one = QuizQuestion.objects.create(quiz=quiz, position=1, kind="single", text="大模型的核心是？")
    right1 = QuizChoice.objects.create(question=one, text="深度神经网络", correct=True)
    wrong1 = QuizChoice.objects.create(question=one, text="关系数据库")
    two = QuizQuestion.objects.create(
        quiz=quiz, position=2, kind="multiple", text="哪些属于生成式AI？"
    )
    right2a = QuizChoice.objects.create(question=two, text="文生图", correct=True)
    right2b = QuizChoice.objects.create(question=two, text="对话模型", correct=True)
    wrong2 = QuizChoice.objects.create(question=two, text="计算器")
    return quiz, {
        "one": one,
        "two": two,
        "right": {one.pk: [right1.pk], two.pk: [right2a.pk, right2b.pk]},
        "half": {one.pk: [right1.pk], two.pk: [right2a.pk]},  # a partly right multiple is wrong
        "wrong": {one.pk: [wrong1.pk], two.pk: [wrong2.pk]},
    }


@pytest.fixture
def enrolled(cadre: User, programme: Programme) -> User:
    enrolment_create(user=cadre, programme=programme)
    return cadre


def test_the_page_never_says_which_choice_is_right(
    client: Client, enrolled: User, ended: Lecture
) -> None:
    _make_quiz(ended)
    client.force_login(enrolled)
    page = client.get(f"/lectures/{ended.pk}/quiz/")
    assert page.status_code == 200 and "开始测验" in page.content.decode()
    client.post(f"/lectures/{ended.pk}/quiz/", {"action": "start"})
    html = client.get(f"/lectures/{ended.pk}/quiz/").content.decode()
    assert "深度神经网络" in html and "关系数据库" in html
    inputs = re.findall(r"<input type=\"(?:radio|checkbox)\"[^>]*>", html)
    assert len(inputs) == 5
    shapes = {re.sub(r'value="\d+"', 'value="N"', tag) for tag in inputs}
    assert len(shapes) == 2  # one shape per question kind: nothing marks the right ones
    assert "correct" not in html.split('id="quiz-form"')[1].split("</form>")[0]


def test_attempts_and_the_pass_mark_are_enforced_and_passing_adds_the_bonus(
    client: Client, enrolled: User, ended: Lecture, programme: Programme
) -> None:
    quiz, q = _make_quiz(ended, attempts_allowed=2, pass_percent=60)
    Attendance.objects.create(
        user=enrolled, lecture=ended, live_seconds=90 * 60, completed=True, credit_hours_earned=2
    )
    first = quiz_attempt_start(user=enrolled, quiz=quiz)
    assert quiz_attempt_start(user=enrolled, quiz=quiz).pk == first.pk  # the one in progress
    graded = quiz_attempt_submit(user=enrolled, attempt_id=first.pk, answers=q["half"])
    assert (graded.score_percent, graded.passed) == (50, False)
    assert Attendance.objects.get(user=enrolled).test_passed_at is None
    second = quiz_attempt_start(user=enrolled, quiz=quiz)
    passed = quiz_attempt_submit(user=enrolled, attempt_id=second.pk, answers=q["right"])
    assert (passed.score_percent, passed.passed) == (100, True)
    line = attendance_study_record(user=enrolled).lines[0]
    assert line.test_passed and line.credit_hours == Decimal("2.5")  # 2 + the 0.5 bonus
    with pytest.raises(QuizError) as done:
        quiz_attempt_start(user=enrolled, quiz=quiz)
    assert done.value.code == QuizErrorCode.ALREADY_PASSED
    # the cap bounds lecture and bonus together
    StudyHourRule.objects.create(programme=programme, cap_hours=Decimal("2.2"))
    assert attendance_study_record(user=enrolled).lines[0].credit_hours == Decimal("2.2")


def test_no_attempt_beyond_the_allowed_number(enrolled: User, ended: Lecture) -> None:
    quiz, q = _make_quiz(ended, attempts_allowed=1)
    attempt = quiz_attempt_start(user=enrolled, quiz=quiz)
    quiz_attempt_submit(user=enrolled, attempt_id=attempt.pk, answers=q["wrong"])
    with pytest.raises(QuizError) as refused:
        quiz_attempt_start(user=enrolled, quiz=quiz)
    assert refused.value.code == QuizErrorCode.NO_ATTEMPTS_LEFT


def test_passing_without_attendance_still_earns_the_bonus(enrolled: User, ended: Lecture) -> None:
    quiz, q = _make_quiz(ended)
    attempt = quiz_attempt_start(user=enrolled, quiz=quiz)
    quiz_attempt_submit(user=enrolled, attempt_id=attempt.pk, answers=q["right"])
    row = Attendance.objects.get(user=enrolled, lecture=ended)
    assert row.live_seconds == 0 and not row.completed and row.test_passed_at is not None
    assert attendance_study_record(user=enrolled).total.credit_hours == Decimal("0.5")


def test_forged_or_incomplete_answers_are_refused(enrolled: User, ended: Lecture) -> None:
    quiz, q = _make_quiz(ended)
    attempt = quiz_attempt_start(user=enrolled, quiz=quiz)
    one, two = q["one"].pk, q["two"].pk
    cases = [
        ({one: q["right"][two][:1], two: q["right"][two]}, QuizErrorCode.INVALID_ANSWER),
        (
            {one: [*q["right"][one], *q["wrong"][one]], two: q["right"][two]},
            QuizErrorCode.INVALID_ANSWER,
        ),
        ({one: q["right"][one]}, QuizErrorCode.UNANSWERED),
        ({**q["right"], 999999: [1]}, QuizErrorCode.INVALID_ANSWER),
    ]
    for answers, code in cases:
        with pytest.raises(QuizError) as refused:
            quiz_attempt_submit(user=enrolled, attempt_id=attempt.pk, answers=answers)
        assert refused.value.code == code
    assert not QuizResponse.objects.exists()
    other = User.objects.create(username="other")
    with pytest.raises(QuizError):  # another cadre's attempt is nobody's business
        quiz_attempt_submit(user=other, attempt_id=attempt.pk, answers=q["right"])


def test_the_window_opens_after_the_lecture_and_closes(
    enrolled: User, programme: Programme
) -> None:
    upcoming = LectureFactory(programme=programme, sequence=2)  # tomorrow
    quiz, _q = _make_quiz(upcoming)
    with pytest.raises(QuizError) as early:
        quiz_attempt_start(user=enrolled, quiz=quiz)
    assert early.value.code == QuizErrorCode.NOT_OPEN
    quiz.opens_at = timezone.now() - timedelta(hours=1)
    quiz.closes_at = timezone.now() - timedelta(minutes=1)
    quiz.save()
    with pytest.raises(QuizError) as late:
        quiz_attempt_start(user=enrolled, quiz=quiz)
    assert late.value.code == QuizErrorCode.CLOSED


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submissions_count_once(enrolled: User, ended: Lecture) -> None:
    quiz, q = _make_quiz(ended)
    attempt = quiz_attempt_start(user=enrolled, quiz=quiz)
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def submit() -> None:
        try:
            barrier.wait()
            results.append(
                quiz_attempt_submit(user=enrolled, attempt_id=attempt.pk, answers=q["right"])
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and {r.pk for r in results} == {attempt.pk}
    assert QuizResponse.objects.filter(attempt=attempt).count() == 2  # two questions, once
    assert QuizAttempt.objects.filter(user=enrolled).count() == 1


def test_the_item_analysis_gives_the_share_right_per_question(
    tree: Any, programme: Programme, ended: Lecture
) -> None:
    from tests.factories import UserFactory

    quiz, q = _make_quiz(ended)
    for answers in (q["right"], q["half"], q["wrong"], q["right"]):
        user = UserFactory(unit=tree.lingyin)
        attempt = quiz_attempt_start(user=user, quiz=quiz)
        quiz_attempt_submit(user=user, attempt_id=attempt.pk, answers=answers)
    stats = {s.question.pk: s for s in quiz_item_analysis(quiz=quiz)}
    assert stats[q["one"].pk].answered == 4 and stats[q["one"].pk].correct_share == 0.75
    assert stats[q["two"].pk].correct_share == 0.5


def _xlsx(rows: list[list[Any]]) -> io.BytesIO:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["题型", "题目", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F", "答案"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def test_questions_come_from_an_xlsx_row_by_row(ended: Lecture) -> None:
    quiz = Quiz.objects.create(lecture=ended)
    rows = quiz_xlsx_parse(
        _xlsx(
            [
                ["单选", "算力的单位是？", "FLOPS", "瓦特", None, None, None, None, "A"],
                ["多选", "哪些是大模型？", "GPT", "BERT", "Excel", None, None, None, "A, B"],
                ["判断", "生成内容须标识", None, None, None, None, None, None, "对"],
            ]
        )
    )
    assert quiz_import_xlsx(quiz=quiz, rows=rows) == 3
    kinds = list(quiz.questions.values_list("kind", flat=True))
    assert kinds == ["single", "multiple", "truefalse"]
    multiple = quiz.questions.get(kind="multiple")
    assert [c.correct for c in multiple.choices.all()] == [True, True, False]
    truth = quiz.questions.get(kind="truefalse")
    assert [(c.text, c.correct) for c in truth.choices.all()] == [("正确", True), ("错误", False)]
    with pytest.raises(QuizImportError, match="第 3 行"):
        quiz_xlsx_parse(
            _xlsx(
                [
                    ["单选", "好题", "甲", "乙", None, None, None, None, "A"],
                    ["单选", "坏题", "甲", "乙", None, None, None, None, "E"],
                ]
            )
        )
    with pytest.raises(QuizImportError):
        quiz_xlsx_parse(io.BytesIO(b"not a spreadsheet"))


def test_outsiders_and_lectures_without_a_test(
    client: Client, outsider: User, enrolled: User, ended: Lecture, programme: Programme
) -> None:
    _make_quiz(ended)
    client.force_login(outsider)
    assert client.get(f"/lectures/{ended.pk}/quiz/").status_code == 403
    client.force_login(enrolled)
    other = LectureFactory(programme=programme, sequence=5)
    assert client.get(f"/lectures/{other.pk}/quiz/").status_code == 404
    assert (
        client.post(f"/lectures/{ended.pk}/quiz/", {"action": "submit", "attempt": "x"}).status_code
        == 409
    )
