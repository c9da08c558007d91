"""A queue shared by a team of moderators (issue 19 §2–§5): claims that others see and that
lapse, a cluster rejected at once, the speaker's ordered list, in-hall questions with their
venue, and new questions reaching the consoles coalesced."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from courses.models import Attendance, Lecture, Programme
from courses.services import enrolment_create
from livestream import protocol, services
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.models import Question
from livestream.selectors import room_access_get, room_state
from portal.models import User
from tests.factories import UserFactory, VenueFactory
from tests.livestream.conftest import Client, open_socket, orm

pytestmark = pytest.mark.django_db(transaction=True)

SAME = (
    "脑机接口什么时候能用于帕金森患者？",
    "老师您好，脑机接口何时可以用于帕金森病人",
    "腦機接口什麼時候能用於帕金森患者",
)
OTHER = "大模型在基层治理中有哪些应用场景？"


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
        access=access, text=text, anonymous=False, client_id=f"c-{user.pk}-{text[:4]}"
    ).question


def _access(user: User, lecture: Lecture) -> Any:
    return room_access_get(user=user, lecture_id=lecture.pk)


async def _queue_item(client: Client, question_id: int, timeout: float = 3) -> dict[str, Any]:
    while True:
        frame = await client.find("moderation.queue", timeout)
        if frame["question"]["id"] == question_id:
            return frame["question"]


# -- claims ------------------------------------------------------------------------------


async def test_a_claim_shows_as_taken_to_the_other_moderator_who_cannot_act_on_it(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User, named_moderator: User
) -> None:
    askers = await orm(lambda: _askers(tree, programme, 1))
    question = await orm(lambda: _ask(askers[0], lecture, OTHER))
    first = await open_socket(moderator, lecture.pk)
    second = await open_socket(named_moderator, lecture.pk)
    await first.send({"type": "question.claim", "question_id": question.pk})
    for client in (first, second):
        claim = await client.find("moderation.claim")
        assert claim["question_ids"] == [question.pk]
        assert claim["moderator"] == {"id": moderator.pk, "name": moderator.display_name}
        assert claim["until"]
    # the other moderator's approve is refused while the claim runs, with a retry time
    await second.send(
        {"type": "question.moderate", "question_id": question.pk, "action": "approve"}
    )
    error = await second.find("error")
    assert error["code"] == "claimed"
    assert 1 <= error["retry_after"] <= 60
    assert moderator.display_name in error["message"]
    assert (await orm(lambda: Question.objects.get(pk=question.pk))).status == "pending"
    # a reconnecting console sees the claim in its state
    third = await open_socket(named_moderator, lecture.pk)
    (item,) = [q for q in third.state["queue"] if q["id"] == question.pk]
    assert item["claimed_by"]["id"] == moderator.pk and item["claimed_until"]
    # the claimer acts: the claim ends with the question leaving the queue
    await first.send({"type": "question.moderate", "question_id": question.pk, "action": "approve"})
    item = await _queue_item(second, question.pk)
    assert item["status"] == "approved" and item["claimed_by"] is None
    for client in (first, second, third):
        await client.close()


def test_a_claim_lapses_untouched_and_renews_when_claimed_again(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User, named_moderator: User
) -> None:
    (asker,) = _askers(tree, programme, 1)
    question = _ask(asker, lecture, OTHER)
    first = services.question_claim(access=_access(moderator, lecture), question_id=question.pk)
    assert first.question_ids == [question.pk]
    again = services.question_claim(access=_access(moderator, lecture), question_id=question.pk)
    assert again.until and first.until and again.until >= first.until
    with pytest.raises(LiveError) as refused:
        services.question_claim(access=_access(named_moderator, lecture), question_id=question.pk)
    assert refused.value.code == LiveErrorCode.CLAIMED
    # untouched past its time: free for anyone, nothing had to clear it
    Question.objects.filter(pk=question.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    state = room_state(access=_access(named_moderator, lecture))
    (item,) = [q for q in state["queue"] if q["id"] == question.pk]
    assert item["claimed_by"] is None and item["claimed_until"] is None
    taken = services.question_claim(
        access=_access(named_moderator, lecture), question_id=question.pk
    )
    assert taken.question_ids == [question.pk]
    # releasing is for the holder only; the holder's release frees it
    services.question_claim(
        access=_access(named_moderator, lecture), question_id=question.pk, release=True
    )
    assert Question.objects.get(pk=question.pk).claimed_by_id is None


def test_claiming_a_cluster_takes_its_free_pending_questions(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User, named_moderator: User
) -> None:
    askers = _askers(tree, programme, 4)
    same = [_ask(u, lecture, t) for u, t in zip(askers, SAME, strict=False)]
    other = _ask(askers[3], lecture, OTHER)
    assert len({q.cluster_id for q in same}) == 1
    services.question_claim(access=_access(named_moderator, lecture), question_id=same[2].pk)
    result = services.question_claim(
        access=_access(moderator, lecture), question_id=same[0].pk, cluster=True
    )
    assert result.question_ids == [same[0].pk, same[1].pk]  # the other's stays theirs
    assert Question.objects.get(pk=same[2].pk).claimed_by_id == named_moderator.pk
    assert Question.objects.get(pk=other.pk).claimed_by_id is None


def test_only_moderators_claim_and_only_pending_questions(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User
) -> None:
    (asker,) = _askers(tree, programme, 1)
    question = _ask(asker, lecture, OTHER)
    with pytest.raises(LiveError) as refused:
        services.question_claim(access=_access(asker, lecture), question_id=question.pk)
    assert refused.value.code == LiveErrorCode.FORBIDDEN
    services.question_moderate(
        access=_access(moderator, lecture), question_id=question.pk, action="approve"
    )
    with pytest.raises(LiveError) as late:
        services.question_claim(access=_access(moderator, lecture), question_id=question.pk)
    assert late.value.code == LiveErrorCode.INVALID


def test_a_merge_respects_another_moderators_claim(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User, named_moderator: User
) -> None:
    askers = _askers(tree, programme, 2)
    first, second = (_ask(u, lecture, t) for u, t in zip(askers, SAME, strict=False))
    services.question_claim(access=_access(named_moderator, lecture), question_id=second.pk)
    with pytest.raises(LiveError) as refused:
        services.question_merge(
            access=_access(moderator, lecture), question_id=second.pk, into_id=first.pk
        )
    assert refused.value.code == LiveErrorCode.CLAIMED
    services.question_merge(
        access=_access(named_moderator, lecture), question_id=second.pk, into_id=first.pk
    )
    merged = Question.objects.get(pk=second.pk)
    assert merged.status == "merged" and merged.claimed_by_id is None


# -- a cluster rejected at once -------------------------------------------------------------


async def test_rejecting_a_cluster_rejects_each_pending_copy_and_tells_each_asker(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User, named_moderator: User
) -> None:
    def setup() -> tuple[list[User], list[Question], Question]:
        askers = _askers(tree, programme, 4)
        same = [_ask(u, lecture, t) for u, t in zip(askers, SAME, strict=False)]
        other = _ask(askers[3], lecture, OTHER)
        return askers, same, other

    askers, same, other = await orm(setup)
    sockets = [await open_socket(u, lecture.pk) for u in askers[:3]]
    console = await open_socket(moderator, lecture.pk)
    await console.send(
        {
            "type": "question.moderate",
            "question_id": same[0].pk,
            "action": "reject",
            "reason": "重复广告",
            "cluster": True,
        }
    )
    for socket, question in zip(sockets, same, strict=True):
        told = await socket.find("question.rejected")
        assert told == {
            "type": "question.rejected",
            "question_id": question.pk,
            "reason": "重复广告",
        }
    dropped = {(await console.find("moderation.queue"))["question"]["id"] for _ in same}
    assert dropped == {q.pk for q in same}
    statuses = await orm(
        lambda: dict(Question.objects.filter(lecture=lecture).values_list("pk", "status"))
    )
    assert [statuses[q.pk] for q in same] == ["rejected"] * 3
    assert statuses[other.pk] == "pending"
    # only a rejection applies to a cluster
    await console.send(
        {"type": "question.moderate", "question_id": other.pk, "action": "approve", "cluster": True}
    )
    assert (await console.find("error"))["code"] == "invalid"
    for client in (*sockets, console):
        await client.close()


# -- the speaker's list ---------------------------------------------------------------------


async def test_the_speaker_list_is_ordered_by_moderators_and_shared_with_every_console(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User, named_moderator: User
) -> None:
    def setup() -> tuple[User, list[Question]]:
        askers = _askers(tree, programme, 3)
        texts = ("人工智能会取代哪些岗位？", OTHER, "如何防范深度伪造诈骗？")
        qs = [_ask(u, lecture, t) for u, t in zip(askers, texts, strict=True)]
        mod = _access(moderator, lecture)
        for q in qs[:2]:
            services.question_moderate(access=mod, question_id=q.pk, action="approve")
        return askers[0], qs

    viewer, qs = await orm(setup)
    a, b, pending = qs
    first = await open_socket(moderator, lecture.pk)
    second = await open_socket(named_moderator, lecture.pk)
    watcher = await open_socket(viewer, lecture.pk)
    assert first.state["speaker"] == [] and "speaker" not in watcher.state
    await first.send({"type": "speaker.order", "question_ids": [b.pk, a.pk]})
    for client in (first, second):
        listed = await client.find("speaker.list")
        assert [q["id"] for q in listed["questions"]] == [b.pk, a.pk]
        assert listed["questions"][0]["author"]  # moderator objects: the asker is named
    # a reconnecting console (and the speaker view) starts from the list in its state
    third = await open_socket(named_moderator, lecture.pk)
    assert [q["id"] for q in third.state["speaker"]] == [b.pk, a.pk]
    # a pending question cannot go on it; the list changes nothing then
    await second.send({"type": "speaker.order", "question_ids": [b.pk, pending.pk]})
    assert (await second.find("error"))["code"] == "invalid"
    # answering the first takes it off the list for everyone
    await second.send({"type": "question.moderate", "question_id": b.pk, "action": "answer"})
    listed = await first.find("speaker.list")
    assert [q["id"] for q in listed["questions"]] == [a.pk]
    # viewers never receive the list
    assert (await watcher.until("question.updated"))["question"]["status"] == "answered"
    assert await watcher.silent(0.5)
    for client in (first, second, third, watcher):
        await client.close()


def test_the_speaker_list_refuses_too_many_and_duplicates(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User, settings: Any
) -> None:
    settings.LIVE_SPEAKER_LIST_MAX = 2
    askers = _askers(tree, programme, 3)
    texts = ("人工智能会取代哪些岗位？", OTHER, "如何防范深度伪造诈骗？")
    qs = [_ask(u, lecture, t) for u, t in zip(askers, texts, strict=True)]
    mod = _access(moderator, lecture)
    for q in qs:
        services.question_moderate(access=mod, question_id=q.pk, action="approve")
    with pytest.raises(LiveError) as too_many:
        services.speaker_list_set(access=mod, question_ids=[q.pk for q in qs])
    assert too_many.value.code == LiveErrorCode.INVALID
    with pytest.raises(LiveError) as twice:
        services.speaker_list_set(access=mod, question_ids=[qs[0].pk, qs[0].pk])
    assert twice.value.code == LiveErrorCode.INVALID
    with pytest.raises(LiveError) as viewer:
        services.speaker_list_set(access=_access(askers[0], lecture), question_ids=[qs[0].pk])
    assert viewer.value.code == LiveErrorCode.FORBIDDEN
    services.speaker_list_set(access=mod, question_ids=[qs[1].pk, qs[0].pk])
    services.speaker_list_set(access=mod, question_ids=[qs[0].pk])  # the rest leave it
    positions = dict(Question.objects.filter(lecture=lecture).values_list("pk", "speaker_position"))
    assert positions == {qs[0].pk: 1, qs[1].pk: None, qs[2].pk: None}


# -- in-hall questions and the asker's city --------------------------------------------------


def test_a_question_from_a_checked_in_cadre_carries_the_venue_and_city(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User
) -> None:
    hall, online = _askers(tree, programme, 2)
    venue = VenueFactory(name="知行厅", unit=tree.xihu)
    Attendance.objects.create(user=hall, lecture=lecture, venue=venue, checked_in_at=timezone.now())
    in_hall = _ask(hall, lecture, OTHER)
    from_home = _ask(online, lecture, "人工智能会取代哪些岗位？")
    assert in_hall.venue_id == venue.pk and from_home.venue_id is None
    state = room_state(access=_access(moderator, lecture))
    items = {q["id"]: q for q in state["queue"]}
    assert items[in_hall.pk]["venue"] == "知行厅"
    assert "venue" not in items[from_home.pk]
    assert items[in_hall.pk]["city"] == "杭州市" == items[from_home.pk]["city"]
    viewer_state = room_state(access=_access(online, lecture))
    assert all("venue" not in q and "city" not in q for q in viewer_state["mine"])


# -- coalesced queue updates -----------------------------------------------------------------


async def test_new_questions_reach_the_console_coalesced_and_as_they_are_now(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User, settings: Any
) -> None:
    settings.LIVE_QUEUE_INTERVAL_SECONDS = 0.6
    askers = await orm(lambda: _askers(tree, programme, 3))
    console = await open_socket(moderator, lecture.pk)

    def burst() -> list[Question]:
        qs = [
            _ask(askers[0], lecture, OTHER),
            _ask(askers[1], lecture, "人工智能会取代哪些岗位？"),
            _ask(askers[2], lecture, "如何防范深度伪造诈骗？"),
        ]
        # handled before the tick: the console hears of it once, as approved
        services.question_moderate(
            access=_access(moderator, lecture), question_id=qs[2].pk, action="approve"
        )
        return qs

    qs = await orm(burst)
    seen: dict[int, list[str]] = {}
    while sum(len(v) for v in seen.values()) < 4:  # 3 asks once each + the approval
        frame = await console.find("moderation.queue", timeout=3)
        seen.setdefault(frame["question"]["id"], []).append(frame["question"]["status"])
    assert seen[qs[0].pk] == ["pending"] and seen[qs[1].pk] == ["pending"]
    assert set(seen[qs[2].pk]) == {"approved"}  # never a stale "pending" after the approval
    await console.close()


async def test_an_action_on_an_already_handled_question_resends_it_to_the_consoles(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User
) -> None:
    (asker,) = await orm(lambda: _askers(tree, programme, 1))
    question = await orm(lambda: _ask(asker, lecture, OTHER))
    await orm(
        lambda: services.question_moderate(
            access=_access(moderator, lecture), question_id=question.pk, action="approve"
        )
    )
    console = await open_socket(moderator, lecture.pk)
    await console.send(
        {"type": "question.moderate", "question_id": question.pk, "action": "approve"}
    )
    item = await _queue_item(console, question.pk)
    assert item["status"] == "approved"  # a console still showing it as pending drops it
    await console.close()


# -- the frames ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"question.claim"}',
        '{"type":"question.claim","question_id":1,"release":"yes"}',
        '{"type":"speaker.order"}',
        '{"type":"speaker.order","question_ids":"1,2"}',
        '{"type":"speaker.order","question_ids":[1,true]}',
        '{"type":"speaker.order","question_ids":[0]}',
        '{"type":"speaker.order","question_ids":[1.5]}',
        '{"type":"question.moderate","question_id":1,"action":"answer","cluster":true}',
    ],
)
def test_malformed_frames_of_the_shared_queue_are_invalid(frame: str) -> None:
    with pytest.raises(LiveError) as refused:
        protocol.parse(frame)
    assert refused.value.code == LiveErrorCode.INVALID


def test_the_shared_queue_frames_parse() -> None:
    assert protocol.parse('{"type":"question.claim","question_id":3,"cluster":true}') == (
        protocol.Claim(question_id=3, release=False, cluster=True)
    )
    assert protocol.parse('{"type":"speaker.order","question_ids":[3,1]}') == (
        protocol.SpeakerOrder(question_ids=[3, 1])
    )
    assert protocol.parse('{"type":"speaker.order","question_ids":[]}') == (
        protocol.SpeakerOrder(question_ids=[])
    )


# -- a console reconnecting during a flood (bench/README.md: moderation during a flood) --------


async def test_a_long_queue_still_fits_the_websocket_and_nothing_is_left_out(
    tree: Any, programme: Programme, lecture: Lecture, moderator: User, viewer: User
) -> None:
    from livestream.broadcast import encode
    from livestream.selectors import STATE_MAX_BYTES, STATE_QUEUE_LIMIT

    def flood() -> list[int]:
        (asker,) = _askers(tree, programme, 1)
        long = "人工智能在基层治理中的应用边界在哪里？" * 15  # ~300 characters each
        Question.objects.bulk_create(
            Question(lecture=lecture, author=asker, text=f"{i}{long}"[:300], client_id=f"f{i}")
            for i in range(250)
        )
        Question.objects.bulk_create(
            Question(
                lecture=lecture,
                author=asker,
                text=f"已公开{i}{long}"[:300],
                client_id=f"p{i}",
                status="approved",
            )
            for i in range(120)
        )
        return list(
            Question.objects.filter(lecture=lecture, status="pending")
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:STATE_QUEUE_LIMIT]
        )

    expected = await orm(flood)
    console = await open_socket(moderator, lecture.pk)
    assert len(encode(console.state).encode()) <= STATE_MAX_BYTES
    seen = [q["id"] for q in console.state["queue"]]
    assert 0 < len(seen) < len(expected)  # what fits; the rest follows at once
    while len(seen) < len(expected):
        frame = await console.recv()
        assert frame["type"] == "moderation.queue" and frame["seq"] == console.state["seq"]
        seen.append(frame["question"]["id"])
    assert seen == expected
    assert console.state["questions"]  # the newest published ones that fit
    watcher = await open_socket(viewer, lecture.pk)
    assert len(encode(watcher.state).encode()) <= STATE_MAX_BYTES
    newest = watcher.state["questions"]
    assert newest and newest[0]["text"].startswith("已公开119")
    for client in (console, watcher):
        await client.close()


async def test_a_moderators_console_may_send_more_frames_than_a_viewer(
    lecture: Lecture, moderator: User, settings: Any
) -> None:
    settings.LIVE_FLOOD_FRAMES = 5
    settings.LIVE_FLOOD_FRAMES_MODERATOR = 30
    console = await open_socket(moderator, lecture.pk)
    for _ in range(20):  # a claim and an action per question, ten questions
        await console.send({"type": "hello"})
    for _ in range(20):
        assert (await console.find("state"))["type"] == "state"
    await console.close()
