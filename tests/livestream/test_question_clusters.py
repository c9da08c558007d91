"""Near-duplicate questions in the moderators' queue (issue 19 §1): clusters on the queue
items, question.merge, and the asker told what their question was merged into."""

from __future__ import annotations

from typing import Any

import pytest

from courses.models import Lecture, Programme
from courses.services import enrolment_create
from livestream import services
from livestream.models import Question, Vote
from livestream.selectors import room_access_get, room_state
from portal.models import User
from tests.factories import UserFactory
from tests.livestream.conftest import open_socket, orm

pytestmark = pytest.mark.django_db(transaction=True)

SAME = (
    "脑机接口什么时候能用于帕金森患者？",
    "老师您好，脑机接口何时可以用于帕金森病人",
    "腦機接口什麼時候能用於帕金森患者",
)
OTHER = "脑机接口有哪些伦理风险？"


def _askers(tree: Any, programme: Programme, n: int) -> list[User]:
    users = []
    for i in range(n):
        user = UserFactory(username=f"asker{i}", full_name=f"提问者{i}", unit=tree.lingyin)
        enrolment_create(user=user, programme=programme)
        users.append(user)
    return users


def _ask(user: User, lecture: Lecture, text: str) -> Question:
    access = room_access_get(user=user, lecture_id=lecture.pk)
    return services.question_ask(
        access=access, text=text, anonymous=False, client_id=f"c-{user.pk}"
    ).question


def test_paraphrases_share_a_cluster_and_the_queue_says_how_big(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User
) -> None:
    askers = _askers(tree, programme, 4)
    questions = [_ask(u, lecture, t) for u, t in zip(askers, [*SAME, OTHER], strict=True)]
    first = questions[0]
    assert [q.cluster_id for q in questions[:3]] == [first.pk] * 3
    assert questions[3].cluster_id == questions[3].pk
    state = room_state(access=room_access_get(user=moderator, lecture_id=lecture.pk))
    sizes = {q["id"]: (q["cluster"], q["cluster_size"]) for q in state["queue"]}
    assert sizes[questions[2].pk] == (first.pk, 3)
    assert sizes[questions[3].pk] == (questions[3].pk, 1)
    viewer_state = room_state(access=room_access_get(user=askers[0], lecture_id=lecture.pk))
    assert "queue" not in viewer_state  # clusters are the moderators' business


async def test_a_merge_sums_votes_and_tells_the_asker(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User
) -> None:
    def setup() -> tuple[list[User], list[Question]]:
        askers = _askers(tree, programme, 3)
        qs = [_ask(u, lecture, t) for u, t in zip(askers, SAME, strict=True)]
        mod = room_access_get(user=moderator, lecture_id=lecture.pk)
        services.question_moderate(access=mod, question_id=qs[0].pk, action="approve")
        services.question_moderate(access=mod, question_id=qs[1].pk, action="approve")
        # askers 2 and 3 vote for the second question; asker 3 also for the first
        for user, question in ((askers[2], qs[1]), (askers[2], qs[0]), (askers[0], qs[1])):
            services.question_vote(
                access=room_access_get(user=user, lecture_id=lecture.pk),
                question_id=question.pk,
                up=True,
            )
        return askers, qs

    askers, qs = await orm(setup)
    asker = await open_socket(askers[1], lecture.pk)
    console = await open_socket(moderator, lecture.pk)
    await console.send({"type": "question.merge", "question_id": qs[1].pk, "into_id": qs[0].pk})
    merged = await asker.find("question.merged")
    assert merged == {
        "type": "question.merged",
        "question_id": qs[1].pk,
        "into_id": qs[0].pk,
        "text": SAME[0],
    }
    dropped = await console.find("moderation.queue")
    assert dropped["question"]["id"] in (qs[1].pk, qs[0].pk)

    def check() -> None:
        gone, kept = Question.objects.get(pk=qs[1].pk), Question.objects.get(pk=qs[0].pk)
        assert gone.status == Question.Status.MERGED and gone.merged_into_id == kept.pk
        # one vote per person: asker 3 had voted for both, asker 1 is the first's author
        assert kept.votes == 1 + 0 == Vote.objects.filter(question=kept).count()
        assert not Vote.objects.filter(question=gone).exists()

    await orm(check)
    await console.send({"type": "question.merge", "question_id": qs[0].pk, "into_id": qs[0].pk})
    assert (await console.find("error"))["code"] == "invalid"
    viewer = await open_socket(askers[2], lecture.pk)
    await viewer.send({"type": "question.merge", "question_id": qs[2].pk, "into_id": qs[0].pk})
    assert (await viewer.find("error"))["code"] == "forbidden"
    for sock in (asker, console, viewer):
        await sock.close()
