"""The demo's learning record (issue 18 §6): a 随堂测验 on every ended lecture, the demo
cadre passed the first two (the bonus is in their 学时), ratings from the first cadres,
so the 学时证明 downloads and the speaker's summary has figures.

Deterministic and idempotent: one test per lecture, attempts and ratings by natural key."""

from __future__ import annotations

from datetime import datetime, timedelta

from courses.attendance.rules import attendance_test_passed
from courses.models import Lecture, Programme
from learning.models import (
    INDICATORS,
    Evaluation,
    Quiz,
    QuizAttempt,
    QuizChoice,
    QuizQuestion,
    QuizResponse,
)
from portal.models import User

# (kind, text, [(choice, correct), …]) asked after every lecture
QUESTIONS: tuple[tuple[str, str, tuple[tuple[str, bool], ...]], ...] = (
    (
        "single",
        "生成式人工智能服务向公众提供前，应当履行的程序是？",
        (("安全评估和算法备案", True), ("无需任何手续", False), ("仅需企业内部审批", False)),
    ),
    (
        "multiple",
        "使用大模型起草公文材料时，下列做法正确的是？",
        (
            ("不输入涉密和敏感信息", True),
            ("对生成内容逐字核实", True),
            ("直接引用模型给出的数据", False),
            ("标注人工智能辅助生成", True),
        ),
    ),
    ("truefalse", "深度合成内容应当按规定进行显著标识。", (("正确", True), ("错误", False))),
)
RATINGS = ((4, 4, 3, 4, 4), (3, 3, 4, 3, 4), (4, 3, 4, 4, 3), (2, 3, 3, 3, 2), (4, 4, 4, 4, 4))
COMMENTS = (
    "案例贴近基层工作，很有启发。",
    "",
    "希望多讲一些安全风险防范。",
    "",
    "节奏很好，PPT清晰。",
)
PASSED_LECTURES = 2  # the demo cadre passed the tests of the first two ended lectures


def _quiz(lecture: Lecture) -> Quiz:
    quiz, made = Quiz.objects.get_or_create(
        lecture=lecture, defaults={"pass_percent": 60, "attempts_allowed": 3}
    )
    if made:
        for position, (kind, text, choices) in enumerate(QUESTIONS, start=1):
            question = QuizQuestion.objects.create(
                quiz=quiz, position=position, kind=kind, text=text
            )
            QuizChoice.objects.bulk_create(
                QuizChoice(question=question, position=i, text=c, correct=ok)
                for i, (c, ok) in enumerate(choices)
            )
    return quiz


def _passed(quiz: Quiz, user: User, at: datetime) -> None:
    if QuizAttempt.objects.filter(quiz=quiz, user=user).exists():
        return
    questions = list(quiz.questions.prefetch_related("choices"))
    attempt = QuizAttempt.objects.create(
        quiz=quiz,
        user=user,
        number=1,
        layout=[[q.pk, [c.pk for c in q.choices.all()]] for q in questions],
        submitted_at=at,
        score_percent=100,
        passed=True,
    )
    QuizResponse.objects.bulk_create(
        QuizResponse(
            attempt=attempt,
            question=q,
            chosen=[c.pk for c in q.choices.all() if c.correct],
            correct=True,
        )
        for q in questions
    )
    attendance_test_passed(user_id=user.pk, lecture_id=quiz.lecture_id, at=at)


def learning_seed(*, programme: Programme, cadre: User, raters: list[User], now: datetime) -> int:
    """Tests, the demo cadre's passes and the ratings; returns the ratings created."""
    ended = [
        lecture
        for lecture in programme.lectures.order_by("sequence")
        if lecture.status_at(now) == Lecture.Status.ENDED
    ]
    created = 0
    for index, lecture in enumerate(ended):
        quiz = _quiz(lecture)
        at = lecture.compute_ends_at() + timedelta(minutes=20)
        if index < PASSED_LECTURES:
            _passed(quiz, cadre, at)
        for i, rater in enumerate(raters):
            scores = RATINGS[(i + index) % len(RATINGS)]
            _row, made = Evaluation.objects.get_or_create(
                lecture=lecture,
                user=rater,
                defaults={
                    **{key: score for (key, _label), score in zip(INDICATORS, scores, strict=True)},
                    "comment": COMMENTS[(i + index) % len(COMMENTS)],
                },
            )
            created += int(made)
    return created
