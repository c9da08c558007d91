"""评课 (issue 18 §3): five indicators on four levels, one rating per cadre and lecture,
editable until the deadline, sensitive comments flagged, an anonymous summary for the
speaker (moderators) and the names for the organisers' admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from courses.models import Lecture, Programme
from courses.services import enrolment_create
from learning.evaluations import EvaluationError, EvaluationErrorCode, evaluation_save
from learning.models import Evaluation
from portal.models import User
from tests.factories import LectureFactory, UserFactory

pytestmark = pytest.mark.django_db

GOOD = {"relevance": 4, "theory": 3, "information": 4, "delivery": 3, "manner": 4}


@pytest.fixture
def ended(programme: Programme) -> Lecture:
    return LectureFactory(programme=programme, starts_at=timezone.now() - timedelta(hours=3))


def test_a_cadre_rates_once_and_may_change_it_until_the_deadline(
    client: Client, cadre: User, programme: Programme, ended: Lecture, settings: Any
) -> None:
    enrolment_create(user=cadre, programme=programme)
    client.force_login(cadre)
    url = f"/lectures/{ended.pk}/evaluate/"
    page = client.get(url).content.decode()
    assert "现实针对性" in page and "教风教态" in page and "非常满意" in page
    response = client.post(url, {**GOOD, "comment": "案例丰富"})
    assert response.status_code == 302
    client.post(url, {**GOOD, "theory": 2, "comment": "理论可以更深"})
    mine = Evaluation.objects.get(user=cadre, lecture=ended)
    assert (mine.theory, mine.comment) == (2, "理论可以更深")
    assert Evaluation.objects.count() == 1
    missing = client.post(url, {"relevance": 4})
    assert missing.status_code == 409 and "请对每一项指标" in missing.content.decode()
    settings.LEARNING_EVALUATION_DAYS = 0
    ended.starts_at = timezone.now() - timedelta(days=1)
    ended.save()
    with pytest.raises(EvaluationError) as closed:
        evaluation_save(user=cadre, lecture=ended, ratings=GOOD, comment="")
    assert closed.value.code == EvaluationErrorCode.CLOSED
    assert Evaluation.objects.get(pk=mine.pk).theory == 2  # kept as it was


def test_not_before_the_lecture_and_bad_values_are_refused(cadre: User, lecture: Lecture) -> None:
    with pytest.raises(EvaluationError) as early:
        evaluation_save(user=cadre, lecture=lecture, ratings=GOOD, comment="")
    assert early.value.code == EvaluationErrorCode.NOT_YET
    lecture.starts_at = timezone.now() - timedelta(minutes=5)
    lecture.save()
    for bad in (
        {**GOOD, "theory": 5},
        {**GOOD, "manner": 0},
        {k: v for k, v in GOOD.items() if k != "delivery"},
    ):
        with pytest.raises(EvaluationError) as refused:
            evaluation_save(user=cadre, lecture=lecture, ratings=bad, comment="")
        assert refused.value.code == EvaluationErrorCode.INVALID
    with pytest.raises(EvaluationError) as long:
        evaluation_save(user=cadre, lecture=lecture, ratings=GOOD, comment="长" * 501)
    assert long.value.code == EvaluationErrorCode.TOO_LONG


def test_the_speaker_sees_an_anonymous_summary_without_flagged_comments(
    client: Client, tree: Any, programme: Programme, ended: Lecture, organiser: User
) -> None:
    raters = [UserFactory(full_name=f"学员{i}", unit=tree.lingyin) for i in range(4)]
    evaluation_save(user=raters[0], lecture=ended, ratings=GOOD, comment="很有启发")
    evaluation_save(user=raters[1], lecture=ended, ratings={**GOOD, "theory": 1}, comment="")
    evaluation_save(user=raters[2], lecture=ended, ratings=GOOD, comment="法轮功")  # flagged
    assert Evaluation.objects.get(user=raters[2]).flagged
    client.force_login(organiser)
    html = client.get(f"/lectures/{ended.pk}/evaluate/").content.decode()
    assert "很有启发" in html and "法轮功" not in html
    assert "学员0" not in html and "学员1" not in html  # anonymous
    assert "3 份评价" in html
    # 3 raters × 5 indicators = 15 answers, 14 satisfied or better (one 不满意)
    assert "满意度 93%" in html
    enrolment_create(user=raters[3], programme=programme)
    client.force_login(raters[3])
    viewer = client.get(f"/lectures/{ended.pk}/evaluate/").content.decode()
    assert "很有启发" not in viewer  # cadres rate; the summary is for the speaker's side


def test_outsiders_cannot_rate(client: Client, outsider: User, ended: Lecture) -> None:
    client.force_login(outsider)
    assert client.get(f"/lectures/{ended.pk}/evaluate/").status_code == 403
    assert client.post(f"/lectures/{ended.pk}/evaluate/", GOOD).status_code == 403
    assert client.get("/lectures/999999/evaluate/").status_code == 404


def test_the_report_shows_pass_rate_and_satisfaction_per_unit(
    client: Client, tree: Any, programme: Programme, ended: Lecture, organiser: User
) -> None:
    import csv
    import io

    from learning.models import Quiz, QuizAttempt

    quiz = Quiz.objects.create(lecture=ended)
    xihu = [UserFactory(unit=tree.lingyin) for _ in range(2)]
    yuhang = UserFactory(unit=tree.yuhang)
    for user, passed in ((xihu[0], True), (xihu[1], False), (yuhang, True)):
        QuizAttempt.objects.create(
            quiz=quiz, user=user, number=1, submitted_at=timezone.now(), passed=passed
        )
    QuizAttempt.objects.create(  # a second try that passed: the cadre counts once, passed
        quiz=quiz, user=xihu[1], number=2, submitted_at=timezone.now(), passed=True
    )
    evaluation_save(user=xihu[0], lecture=ended, ratings=GOOD, comment="")
    evaluation_save(user=yuhang, lecture=ended, ratings={k: 1 for k in GOOD}, comment="")
    client.force_login(organiser)
    base = f"/reports/attendance/?lecture={ended.pk}&unit={tree.hangzhou.code}"
    assert "extra=learning" in client.get(base).content.decode()
    response: Any = client.get(base + "&extra=learning&format=csv")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header = rows[0]
    pass_col, happy = header.index("测验通过率"), header.index("满意度")
    by_unit = {r[0]: (r[pass_col], r[happy]) for r in rows[1:]}
    assert by_unit["西湖区"][0].startswith("100") and by_unit["西湖区"][1].startswith("100")
    assert by_unit["余杭区"][0].startswith("100") and by_unit["余杭区"][1] in ("0%", "0.0%", "0")
    assert by_unit["合计"][1].startswith("50")
