"""随堂测验: a lecture's test taken on the server (issue 18 §2).

The browser gets the questions and choices of an attempt in that attempt's order, never
which choices are right; answers are checked here. Attempts and the pass mark are enforced
here; a submission counts once, however often (or from however many tabs) it is sent.
Passing records ``Attendance.test_passed_at`` (``courses.attendance.rules``): the rule's
test bonus then enters the credit."""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from courses.attendance.rules import attendance_test_passed
from learning.models import Quiz, QuizAttempt, QuizChoice, QuizQuestion, QuizResponse
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.selectors import room_access_get
from portal.errors import CodedError
from portal.models import User

_shuffler = random.SystemRandom()


class QuizErrorCode(enum.Enum):
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    NOT_OPEN = "not_open"
    CLOSED = "closed"
    NO_ATTEMPTS_LEFT = "no_attempts_left"
    ALREADY_PASSED = "already_passed"
    INVALID_ANSWER = "invalid_answer"
    UNANSWERED = "unanswered"


class QuizError(CodedError):
    messages = {
        QuizErrorCode.NOT_FOUND: _("This lecture has no test."),
        QuizErrorCode.FORBIDDEN: _("This test is for the lecture's audience."),
        QuizErrorCode.NOT_OPEN: _("The test is not open yet."),
        QuizErrorCode.CLOSED: _("The test has closed."),
        QuizErrorCode.NO_ATTEMPTS_LEFT: _("You have used all your attempts at this test."),
        QuizErrorCode.ALREADY_PASSED: _("You have already passed this test."),
        QuizErrorCode.INVALID_ANSWER: _("An answer does not belong to this test; reload the page."),
        QuizErrorCode.UNANSWERED: _("Please answer every question."),
    }


def quiz_for_user(*, user: User, lecture_id: int) -> tuple[Quiz, bool]:
    """The lecture's published test and whether ``user`` moderates it (they may preview an
    unpublished one). Who may take it: the live room's rule (``room_access_get``)."""
    try:
        access = room_access_get(user=user, lecture_id=lecture_id)
    except LiveError as error:
        code = QuizErrorCode.NOT_FOUND if error.code == LiveErrorCode.NOT_FOUND else None
        raise QuizError(code or QuizErrorCode.FORBIDDEN) from error
    quiz = Quiz.objects.filter(lecture_id=lecture_id).first()
    if quiz is None or not (quiz.is_published or access.is_moderator):
        raise QuizError(QuizErrorCode.NOT_FOUND)
    quiz.lecture = access.lecture
    return quiz, access.is_moderator


def quiz_opens_at(quiz: Quiz) -> datetime:
    return quiz.opens_at or quiz.lecture.compute_ends_at()


@dataclass(frozen=True)
class QuizState:
    quiz: Quiz
    opens_at: datetime
    is_open: bool
    closed: bool
    used: int
    left: int
    passed: bool
    best: int | None
    current: QuizAttempt | None  # an attempt started, not submitted
    last: QuizAttempt | None  # the last submitted


def quiz_state(*, user: User, quiz: Quiz, now: datetime | None = None) -> QuizState:
    now = now or timezone.now()
    attempts = list(QuizAttempt.objects.filter(quiz=quiz, user=user).order_by("number"))
    submitted = [a for a in attempts if a.submitted_at is not None]
    opens = quiz_opens_at(quiz)
    closed = quiz.closes_at is not None and now >= quiz.closes_at
    return QuizState(
        quiz=quiz,
        opens_at=opens,
        is_open=opens <= now and not closed,
        closed=closed,
        used=len(attempts),
        left=max(0, quiz.attempts_allowed - len(attempts)),
        passed=any(a.passed for a in submitted),
        best=max((a.score_percent or 0 for a in submitted), default=None),
        current=next((a for a in attempts if a.submitted_at is None), None),
        last=submitted[-1] if submitted else None,
    )


def _check_open(quiz: Quiz, now: datetime) -> None:
    if quiz.closes_at is not None and now >= quiz.closes_at:
        raise QuizError(QuizErrorCode.CLOSED)
    if now < quiz_opens_at(quiz):
        raise QuizError(QuizErrorCode.NOT_OPEN)


def _layout(quiz: Quiz) -> list[list[object]]:
    questions = list(quiz.questions.prefetch_related("choices"))
    if quiz.shuffle:
        _shuffler.shuffle(questions)
    layout: list[list[object]] = []
    for question in questions:
        choices = [c.pk for c in question.choices.all()]
        if quiz.shuffle and question.kind != QuizQuestion.Kind.TRUE_FALSE:
            _shuffler.shuffle(choices)
        layout.append([question.pk, choices])
    return layout


def quiz_attempt_start(*, user: User, quiz: Quiz) -> QuizAttempt:
    """The attempt in progress, else a new one (attempts and the window enforced here)."""
    now = timezone.now()
    _check_open(quiz, now)
    with transaction.atomic():
        # one cadre's starts are serialised: two tabs cannot take two attempts at once
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        state = quiz_state(user=user, quiz=quiz, now=now)
        if state.current is not None:
            return state.current
        if state.passed:
            raise QuizError(QuizErrorCode.ALREADY_PASSED)
        if state.left <= 0:
            raise QuizError(QuizErrorCode.NO_ATTEMPTS_LEFT)
        try:
            with transaction.atomic():
                return QuizAttempt.objects.create(
                    quiz=quiz, user=user, number=state.used + 1, layout=_layout(quiz)
                )
        except IntegrityError:  # another process numbered it first
            raise QuizError(QuizErrorCode.NO_ATTEMPTS_LEFT) from None


@dataclass(frozen=True)
class ShownChoice:
    id: int
    text: str


@dataclass(frozen=True)
class ShownQuestion:
    id: int
    number: int
    kind: str
    text: str
    choices: list[ShownChoice]


def attempt_questions(*, attempt: QuizAttempt) -> list[ShownQuestion]:
    """The attempt's questions in its order, with choice ids and texts only."""
    ids = [int(q) for q, _c in attempt.layout]
    questions = {q.pk: q for q in QuizQuestion.objects.filter(pk__in=ids)}
    choices = {c.pk: c for c in QuizChoice.objects.filter(question_id__in=ids).only("pk", "text")}
    shown = []
    for number, (qid, cids) in enumerate(attempt.layout, start=1):
        question = questions.get(int(qid))
        if question is None:  # deleted by an organiser since: not asked
            continue
        shown.append(
            ShownQuestion(
                id=question.pk,
                number=number,
                kind=question.kind,
                text=question.text,
                choices=[ShownChoice(c, choices[c].text) for c in cids if c in choices],
            )
        )
    return shown


def quiz_attempt_submit(
    *, user: User, attempt_id: int, answers: Mapping[int, Sequence[int]]
) -> QuizAttempt:
    """Grade an attempt once: a question is right when exactly its correct choices were
    chosen. A second submission of the same attempt changes nothing and returns it."""
    with transaction.atomic():
        attempt = (
            QuizAttempt.objects.select_for_update()
            .select_related("quiz", "quiz__lecture")
            .filter(pk=attempt_id, user=user)
            .first()
        )
        if attempt is None:
            raise QuizError(QuizErrorCode.NOT_FOUND)
        if attempt.submitted_at is not None:
            return attempt
        now = timezone.now()
        if attempt.quiz.closes_at is not None and now >= attempt.quiz.closes_at:
            raise QuizError(QuizErrorCode.CLOSED)
        layout = {int(q): [int(c) for c in cids] for q, cids in attempt.layout}
        questions = {q.pk: q for q in QuizQuestion.objects.filter(pk__in=list(layout))}
        correct_of = {
            qid: {c.pk for c in QuizChoice.objects.filter(question_id=qid, correct=True)}
            for qid in questions
        }
        if set(answers) - set(layout):
            raise QuizError(QuizErrorCode.INVALID_ANSWER)
        responses = []
        right = 0
        for qid, question in questions.items():
            chosen = sorted({int(c) for c in answers.get(qid, ())})
            if not chosen:
                raise QuizError(QuizErrorCode.UNANSWERED)
            if set(chosen) - set(layout[qid]):
                raise QuizError(QuizErrorCode.INVALID_ANSWER)
            if question.kind != QuizQuestion.Kind.MULTIPLE and len(chosen) > 1:
                raise QuizError(QuizErrorCode.INVALID_ANSWER)
            ok = set(chosen) == correct_of[qid]
            right += int(ok)
            responses.append(
                QuizResponse(attempt=attempt, question=question, chosen=chosen, correct=ok)
            )
        QuizResponse.objects.bulk_create(responses)
        total = len(questions)
        attempt.score_percent = round(100 * right / total) if total else 0
        attempt.passed = total > 0 and attempt.score_percent >= attempt.quiz.pass_percent
        attempt.submitted_at = now
        attempt.save(update_fields=["score_percent", "passed", "submitted_at"])
        if attempt.passed:
            attendance_test_passed(user_id=user.pk, lecture_id=attempt.quiz.lecture_id, at=now)
    return attempt


@dataclass(frozen=True)
class ItemStat:
    question: QuizQuestion
    answered: int
    correct_share: float  # 0..1


def quiz_item_analysis(*, quiz: Quiz) -> list[ItemStat]:
    """Per question: the share of submitted answers that were right (all attempts)."""
    figures = {
        row["question_id"]: row
        for row in QuizResponse.objects.filter(attempt__quiz=quiz)
        .values("question_id")
        .annotate(n=Count("pk"), right=Count("pk", filter=Q(correct=True)))
        .order_by()
    }
    stats = []
    for question in quiz.questions.all():
        row = figures.get(question.pk)
        n = int(row["n"]) if row else 0
        share = int(row["right"]) / n if row and n else 0.0
        stats.append(ItemStat(question=question, answered=n, correct_share=share))
    return stats


# ---------------------------------------------------------------------------
# Questions from an XLSX (the organisers' usual format)
# ---------------------------------------------------------------------------
QUESTIONS_MAX = 200
_KINDS = {
    "单选": QuizQuestion.Kind.SINGLE,
    "单选题": QuizQuestion.Kind.SINGLE,
    "single": QuizQuestion.Kind.SINGLE,
    "多选": QuizQuestion.Kind.MULTIPLE,
    "多选题": QuizQuestion.Kind.MULTIPLE,
    "multiple": QuizQuestion.Kind.MULTIPLE,
    "判断": QuizQuestion.Kind.TRUE_FALSE,
    "判断题": QuizQuestion.Kind.TRUE_FALSE,
    "truefalse": QuizQuestion.Kind.TRUE_FALSE,
}
_TRUE, _FALSE = (
    ("对", "正确", "是", "√", "T", "TRUE", "A"),
    ("错", "错误", "否", "×", "F", "FALSE", "B"),
)
LETTERS = "ABCDEF"


class QuizImportError(ValueError):
    """A row of the file is not a question; the message (Chinese) names the row."""


@dataclass(frozen=True)
class ImportedQuestion:
    kind: str
    text: str
    choices: list[tuple[str, bool]]


def _row_error(number: int, message: str) -> QuizImportError:
    return QuizImportError(_("Row %(n)s: %(problem)s") % {"n": number, "problem": message})


def quiz_xlsx_parse(upload: Any) -> list[ImportedQuestion]:
    """Rows 2… of the first sheet: 题型, 题目, 选项A–F, 答案. Raises ``QuizImportError``."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(upload, read_only=True, data_only=True)
    except Exception as exc:  # not an XLSX at all (openpyxl raises many kinds)
        raise QuizImportError(str(_("This is not an Excel (XLSX) file."))) from exc
    sheet = book.worksheets[0]
    questions: list[ImportedQuestion] = []
    for number, row in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        cells = ["" if v is None else str(v).strip() for v in row]
        if not any(cells):
            continue
        cells += [""] * (9 - len(cells))
        kind = _KINDS.get(cells[0].lower() if cells[0].isascii() else cells[0])
        if kind is None:
            raise _row_error(number, str(_("the kind must be 单选, 多选 or 判断")))
        text, answer = cells[1], cells[8].upper().replace(" ", "").replace(",", "")
        if not text or len(text) > 1000:
            raise _row_error(
                number, str(_("the question is empty or longer than 1,000 characters"))
            )
        if kind == QuizQuestion.Kind.TRUE_FALSE:
            if answer not in _TRUE + _FALSE:
                raise _row_error(number, str(_("the answer of a 判断 question is 对 or 错")))
            right = answer in _TRUE
            questions.append(ImportedQuestion(kind, text, [("正确", right), ("错误", not right)]))
        else:
            options = [(LETTERS[i], c) for i, c in enumerate(cells[2:8]) if c]
            if len(options) < 2 or any(len(c) > 300 for _l, c in options):
                raise _row_error(
                    number, str(_("give two to six choices of at most 300 characters"))
                )
            letters = {letter for letter, _c in options}
            if not answer or set(answer) - letters:
                raise _row_error(number, str(_("the answer names a choice that is not there")))
            if kind == QuizQuestion.Kind.SINGLE and len(set(answer)) != 1:
                raise _row_error(number, str(_("a 单选 question has exactly one answer")))
            questions.append(
                ImportedQuestion(kind, text, [(c, letter in answer) for letter, c in options])
            )
        if len(questions) > QUESTIONS_MAX:
            raise QuizImportError(str(_("At most 200 questions per file.")))
    if not questions:
        raise QuizImportError(str(_("The file has no questions.")))
    return questions


@transaction.atomic
def quiz_import_xlsx(*, quiz: Quiz, rows: Sequence[ImportedQuestion]) -> int:
    """Add the parsed questions after the test's existing ones."""
    start = (
        quiz.questions.order_by("-position").values_list("position", flat=True).first() or 0
    ) + 1
    for offset, row in enumerate(rows):
        question = QuizQuestion.objects.create(
            quiz=quiz, position=start + offset, kind=row.kind, text=row.text
        )
        QuizChoice.objects.bulk_create(
            [
                QuizChoice(question=question, position=i, text=text, correct=correct)
                for i, (text, correct) in enumerate(row.choices)
            ]
        )
    return len(rows)
