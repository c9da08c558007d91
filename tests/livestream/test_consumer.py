"""The live-room consumer: every client message, server event, close code and limit."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from courses.models import Lecture
from livestream.models import Question, Vote
from portal.models import AuditLog
from tests.livestream.conftest import Client, open_socket, orm, ws_app

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "大模型会取代基层干部吗?"
ASK = {"type": "question.ask", "text": QUESTION, "anonymous": False}


def ask(client_id: str, text: str = QUESTION, anonymous: bool = False) -> dict:
    return {**ASK, "client_id": client_id, "text": text, "anonymous": anonymous}


async def approved_question(asker, mod, client_id="q1", **kw) -> dict:
    await asker.send(ask(client_id, **kw))
    accepted = await asker.until("question.accepted")
    await mod.find("moderation.queue")
    await mod.send(
        {
            "type": "question.moderate",
            "question_id": accepted["question"]["id"],
            "action": "approve",
        }
    )
    await mod.find("question.published")
    await mod.find("moderation.queue")
    return accepted["question"]


# -- connecting -------------------------------------------------------------------------


async def _close_code(user, lecture_id) -> int | None:
    comm = WebsocketCommunicator(ws_app, f"/ws/lectures/{lecture_id}/")
    comm.scope["user"] = user
    connected, _ = await comm.connect()
    assert connected  # accepted, then closed with the protocol's code
    out = await comm.receive_output(3)
    await comm.disconnect()
    assert out["type"] == "websocket.close"
    return out["code"]


async def test_anonymous_is_closed_4401(lecture):
    assert await _close_code(AnonymousUser(), lecture.pk) == 4401


async def test_outsider_is_closed_4403(outsider, lecture):
    assert await _close_code(outsider, lecture.pk) == 4403


async def test_unknown_lecture_is_closed_4404(viewer):
    assert await _close_code(viewer, 999_999) == 4404


async def test_unpublished_programme_is_4404_for_viewers(viewer, lecture):
    lecture.programme.is_published = False
    await sync_to_async(lecture.programme.save)()
    assert await _close_code(viewer, lecture.pk) == 4404


async def test_audience_member_may_watch_without_enrolling(cadre, lecture):
    client = await open_socket(cadre, lecture.pk)
    assert client.state["role"] == "viewer"
    await client.close()


async def test_state_snapshot_shape(viewer, lecture):
    client = await open_socket(viewer, lecture.pk)
    state = client.state
    assert state["type"] == "state"
    assert state["seq"] == 0
    assert state["lecture"]["id"] == lecture.pk
    assert state["lecture"]["status"] == "scheduled"
    assert state["lecture"]["starts_at"].endswith("+08:00")
    assert state["questions"] == []
    assert state["mine"] == []
    assert state["role"] == "viewer"
    assert "queue" not in state
    assert isinstance(state["viewers"], int)
    await client.close()


async def test_organiser_and_named_moderator_get_moderator_role(
    organiser, named_moderator, province_organiser, lecture
):
    for user in (organiser, named_moderator, province_organiser):
        client = await open_socket(user, lecture.pk)
        assert client.state["role"] == "moderator"
        assert client.state["queue"] == []
        await client.close()


# -- asking ---------------------------------------------------------------------------


async def test_ask_is_accepted_and_queued_for_moderators(viewer, moderator, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    await cadre.send(ask("c1", anonymous=True))
    accepted = await cadre.until("question.accepted")
    assert accepted["client_id"] == "c1"
    assert accepted["question"]["status"] == "pending"
    assert accepted["question"]["author"] == "匿名"
    assert "unit" not in accepted["question"]
    queued = await mod.until("moderation.queue")
    assert queued["question"]["author"] == "张三"  # moderators see who asked
    assert queued["question"]["anonymous"] is True
    assert queued["question"]["flagged"] is False
    assert "seq" in queued
    assert await cadre.silent()  # viewers never see pending questions of others
    await cadre.close()
    await mod.close()


async def test_sensitive_word_flags_the_question(viewer, moderator, lecture, tmp_path, settings):
    words = tmp_path / "words.txt"
    words.write_text("# test list\n违禁词\n", encoding="utf-8")
    settings.LIVE_SENSITIVE_WORDS_FILE = str(words)
    cadre = await open_socket(viewer, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    await cadre.send(ask("c1", text="这里有个 违禁 词"))
    await cadre.until("question.accepted")
    queued = await mod.until("moderation.queue")
    assert queued["question"]["flagged"] is True
    await cadre.close()
    await mod.close()


async def test_same_client_id_creates_one_question(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send(ask("same"))
    first = await cadre.until("question.accepted")
    await cadre.send(ask("same"))
    second = await cadre.until("question.accepted")
    assert first["question"]["id"] == second["question"]["id"]
    assert await orm(lambda: Question.objects.filter(lecture=lecture).count()) == 1
    await cadre.close()


async def test_second_question_within_interval_is_rate_limited(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send(ask("a"))
    await cadre.until("question.accepted")
    await cadre.send(ask("b"))
    error = await cadre.until("error")
    assert error["code"] == "rate_limited"
    assert 1 <= error["retry_after"] <= 10
    assert "秒" in error["message"]
    await cadre.close()


async def test_questions_per_lecture_are_capped(viewer, lecture, settings):
    settings.LIVE_QUESTION_INTERVAL_SECONDS = 0
    settings.LIVE_QUESTIONS_PER_LECTURE = 2
    cadre = await open_socket(viewer, lecture.pk)
    for n in range(2):
        await cadre.send(ask(f"n{n}"))
        await cadre.until("question.accepted")
    await cadre.send(ask("n2"))
    error = await cadre.until("error")
    assert error["code"] == "rate_limited"
    assert error["retry_after"] > 0
    assert await orm(lambda: Question.objects.filter(lecture=lecture).count()) == 2
    await cadre.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (
            {"type": "question.ask", "text": "长" * 301, "anonymous": False, "client_id": "x"},
            "too_long",
        ),
        ({"type": "question.ask", "text": "   ", "anonymous": False, "client_id": "x"}, "invalid"),
        ({"type": "question.ask", "anonymous": False, "client_id": "x"}, "invalid"),
        ({"type": "question.ask", "text": "问", "anonymous": "yes", "client_id": "x"}, "invalid"),
        (
            {"type": "question.ask", "text": "问", "anonymous": False, "client_id": "x" * 65},
            "invalid",
        ),
        ({"type": "question.ask", "text": 42, "anonymous": False, "client_id": "x"}, "invalid"),
        ({"type": "question.vote", "question_id": "1", "up": True}, "invalid"),
        ({"type": "question.vote", "question_id": True, "up": True}, "invalid"),
        ({"type": "question.vote", "question_id": 1}, "invalid"),
        ({"type": "question.moderate", "question_id": 1, "action": "delete"}, "invalid"),
        ({"type": "heartbeat"}, "invalid"),
        ({"type": "hello", "last_seq": "5"}, "invalid"),
        ({"type": "no.such.type"}, "invalid"),
        ({"no": "type"}, "invalid"),
    ],
)
async def test_bad_frames_get_error_codes(viewer, lecture, frame, code):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send(frame)
    error = await cadre.until("error")
    assert error["code"] == code
    assert error["message"]
    await cadre.close()


async def test_exactly_300_characters_is_accepted(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send(ask("long", text="问" * 300))
    accepted = await cadre.until("question.accepted")
    assert len(accepted["question"]["text"]) == 300
    await cadre.close()


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", "null", '"text"', "{"])
async def test_non_json_and_non_objects_are_invalid(viewer, lecture, raw):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send_raw(text=raw)
    assert (await cadre.until("error"))["code"] == "invalid"
    # the socket stays usable
    await cadre.send({"type": "heartbeat", "playing": True})
    assert (await cadre.until("heartbeat.ack"))["credited_seconds"] == 0
    await cadre.close()


async def test_binary_frame_is_invalid(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send_raw(data=b"\x00\x01")
    assert (await cadre.until("error"))["code"] == "invalid"
    await cadre.close()


# -- limits and close codes -----------------------------------------------------------


async def test_oversize_frame_closes_1009(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send_raw(text=json.dumps({"type": "heartbeat", "playing": True, "pad": "x" * 4100}))
    assert await cadre.closed_with() == 1009
    await cadre.close()


async def test_frame_of_exactly_4096_bytes_is_fine(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    base = json.dumps({"type": "heartbeat", "playing": True, "pad": ""})
    frame = json.dumps({"type": "heartbeat", "playing": True, "pad": "x" * (4096 - len(base))})
    assert len(frame.encode()) == 4096
    await cadre.send_raw(text=frame)
    await cadre.until("heartbeat.ack")
    await cadre.close()


async def test_flooding_closes_4429(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    for _n in range(21):
        await cadre.send_raw(text="{}")
    assert await cadre.closed_with() == 4429
    await cadre.close()


async def test_twenty_frames_are_allowed(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    for _n in range(20):
        await cadre.send({"type": "heartbeat", "playing": True})
    for _n in range(20):
        await cadre.until("heartbeat.ack")
    await cadre.close()


# -- moderation -----------------------------------------------------------------------


async def test_viewer_cannot_moderate(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send(ask("mine"))
    accepted = await cadre.until("question.accepted")
    await cadre.send(
        {
            "type": "question.moderate",
            "question_id": accepted["question"]["id"],
            "action": "approve",
        }
    )
    assert (await cadre.until("error"))["code"] == "forbidden"
    assert await orm(lambda: Question.objects.get().status) == "pending"
    await cadre.close()


async def test_approve_publishes_to_everyone_with_seq(viewer, viewer2, moderator, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    other = await open_socket(viewer2, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    question = await approved_question(cadre, mod)
    for client in (cadre, other):
        published = await client.until("question.published")
        assert published["seq"] == 1
        assert published["question"]["id"] == question["id"]
        assert published["question"]["status"] == "approved"
        assert published["question"]["author"] == "张三"
        assert published["question"]["unit"] == "灵隐街道"
    for client in (cadre, other, mod):
        await client.close()


async def test_reject_tells_the_asker_the_reason(viewer, viewer2, moderator, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    other = await open_socket(viewer2, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    await cadre.send(ask("r"))
    q = (await cadre.until("question.accepted"))["question"]
    await mod.find("moderation.queue")
    await mod.send(
        {
            "type": "question.moderate",
            "question_id": q["id"],
            "action": "reject",
            "reason": "与本讲主题无关",
        }
    )
    rejected = await cadre.until("question.rejected")
    assert rejected == {
        "type": "question.rejected",
        "question_id": q["id"],
        "reason": "与本讲主题无关",
    }
    assert (await mod.find("moderation.queue"))["question"]["status"] == "rejected"
    assert await other.silent()
    assert await orm(lambda: Question.objects.get().reject_reason) == "与本讲主题无关"
    for client in (cadre, other, mod):
        await client.close()


async def test_a_moderation_over_the_socket_is_audited_with_its_address(viewer, moderator, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    comm = WebsocketCommunicator(ws_app, f"/ws/lectures/{lecture.pk}/")
    comm.scope["user"] = moderator
    comm.scope["client"] = ["10.20.30.40", 52100]  # daphne --proxy-headers: nginx's X-F-F
    assert (await comm.connect())[0]
    mod = Client(comm)
    await mod.until("state")
    await cadre.send(ask("a"))
    q = (await cadre.until("question.accepted"))["question"]
    await mod.find("moderation.queue")
    await mod.send(
        {"type": "question.moderate", "question_id": q["id"], "action": "reject", "reason": "重复"}
    )
    await cadre.until("question.rejected")
    entry = await orm(lambda: AuditLog.objects.get(action="question.reject"))
    assert (entry.user_id, entry.address) == (moderator.pk, "10.20.30.40")
    for client in (cadre, mod):
        await client.close()


async def test_answer_highlight_unhighlight_update_everyone(viewer, moderator, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    q1 = await approved_question(cadre, mod, "h1")
    await cadre.until("question.published")
    await mod.send({"type": "question.moderate", "question_id": q1["id"], "action": "answer"})
    updated = await cadre.until("question.updated")
    assert updated["question"]["status"] == "answered"
    assert updated["question"]["answered_at"]
    assert updated["seq"] == 2
    await mod.send({"type": "question.moderate", "question_id": q1["id"], "action": "highlight"})
    assert (await cadre.until("question.updated"))["question"]["highlighted"] is True
    await orm(
        lambda: Question.objects.update(
            created_at=Question.objects.get().created_at.replace(year=2000)
        )
    )
    q2 = await approved_question(cadre, mod, "h2")
    await cadre.until("question.published")
    await mod.send({"type": "question.moderate", "question_id": q2["id"], "action": "highlight"})
    # only one highlighted question: the first one is unhighlighted first
    first = await cadre.until("question.updated")
    second = await cadre.until("question.updated")
    assert (first["question"]["id"], first["question"]["highlighted"]) == (q1["id"], False)
    assert (second["question"]["id"], second["question"]["highlighted"]) == (q2["id"], True)
    await mod.send({"type": "question.moderate", "question_id": q2["id"], "action": "unhighlight"})
    assert (await cadre.until("question.updated"))["question"]["highlighted"] is False
    await cadre.close()
    await mod.close()


async def test_highlighting_a_pending_question_is_invalid(viewer, moderator, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    await cadre.send(ask("p"))
    q = (await cadre.until("question.accepted"))["question"]
    await mod.find("moderation.queue")
    await mod.send({"type": "question.moderate", "question_id": q["id"], "action": "highlight"})
    assert (await mod.find("error"))["code"] == "invalid"
    await cadre.close()
    await mod.close()


async def test_another_lectures_question_is_not_found(
    viewer, moderator, lecture, other_lecture, outsider
):
    foreign = await orm(
        lambda: Question.objects.create(
            lecture=other_lecture,
            author=outsider,
            text="别处的问题",
            client_id="z",
            status="approved",
        )
    )
    cadre = await open_socket(viewer, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    await cadre.send({"type": "question.vote", "question_id": foreign.pk, "up": True})
    assert (await cadre.until("error"))["code"] == "not_found"
    await mod.send({"type": "question.moderate", "question_id": foreign.pk, "action": "reject"})
    assert (await mod.find("error"))["code"] == "not_found"
    assert await orm(lambda: Question.objects.get(pk=foreign.pk).status) == "approved"
    assert not await orm(lambda: Vote.objects.exists())
    await cadre.close()
    await mod.close()


async def test_moderator_state_lists_the_queue_and_viewer_state_lists_mine(
    viewer, moderator, lecture
):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send(ask("s1"))
    await cadre.until("question.accepted")
    await cadre.close()
    again = await open_socket(viewer, lecture.pk)
    assert [q["text"] for q in again.state["mine"]] == [ASK["text"]]
    assert again.state["questions"] == []
    mod = await open_socket(moderator, lecture.pk)
    assert len(mod.state["queue"]) == 1
    assert mod.state["queue"][0]["author"] == "张三"
    await again.close()
    await mod.close()


# -- votes ----------------------------------------------------------------------------


async def test_votes_are_unique_and_coalesced(viewer, viewer2, moderator, lecture, settings):
    settings.LIVE_VOTES_INTERVAL_SECONDS = 0.5
    cadre = await open_socket(viewer, lecture.pk)
    other = await open_socket(viewer2, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    q = await approved_question(cadre, mod)
    await cadre.until("question.published")
    await other.until("question.published")
    for client in (cadre, other, cadre, other):  # a double vote counts once
        await client.send({"type": "question.vote", "question_id": q["id"], "up": True})
    votes = await other.until("question.votes", timeout=3)
    assert votes["counts"] == {str(q["id"]): 2}
    assert votes["seq"] == 2
    assert await other.silent(0.8)  # one event for the four votes
    assert await orm(lambda: Vote.objects.count()) == 2
    # withdrawing a vote
    await cadre.send({"type": "question.vote", "question_id": q["id"], "up": False})
    assert (await other.until("question.votes"))["counts"] == {str(q["id"]): 1}
    again = await open_socket(viewer2, lecture.pk)
    assert again.state["questions"][0]["voted"] is True
    assert again.state["questions"][0]["votes"] == 1
    for client in (cadre, other, mod, again):
        await client.close()


async def test_pending_question_cannot_be_voted(viewer, viewer2, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send(ask("v"))
    q = (await cadre.until("question.accepted"))["question"]
    other = await open_socket(viewer2, lecture.pk)
    await other.send({"type": "question.vote", "question_id": q["id"], "up": True})
    assert (await other.until("error"))["code"] == "not_found"
    await cadre.close()
    await other.close()


# -- heartbeat, hello, viewers, status ---------------------------------------------------


async def test_heartbeat_is_acknowledged(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send({"type": "heartbeat", "playing": True, "replay": False})
    assert await cadre.until("heartbeat.ack") == {"type": "heartbeat.ack", "credited_seconds": 0}
    await cadre.close()


async def test_hello_without_last_seq_sends_state(viewer, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send({"type": "hello"})
    assert (await cadre.until("state"))["seq"] == 0
    await cadre.close()


async def test_hello_recovers_missed_events_after_a_dropped_connection(viewer, moderator, lecture):
    cadre = await open_socket(viewer, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    q = await approved_question(cadre, mod, "x1")
    assert (await cadre.until("question.published"))["seq"] == 1
    await cadre.close()  # dropped
    await mod.send({"type": "question.moderate", "question_id": q["id"], "action": "answer"})
    await mod.find("question.updated")
    await mod.send({"type": "question.moderate", "question_id": q["id"], "action": "highlight"})
    await mod.find("question.updated")
    back = await open_socket(viewer, lecture.pk)
    await back.send({"type": "hello", "last_seq": 1})
    replay = [await back.recv(), await back.recv()]
    assert [e["seq"] for e in replay] == [2, 3]
    assert replay[0]["question"]["status"] == "answered"
    assert replay[1]["question"]["highlighted"] is True
    await back.send({"type": "hello", "last_seq": 3})  # up to date: nothing to replay
    assert await back.silent()
    await back.close()
    await mod.close()


async def test_hello_beyond_the_ring_gets_a_fresh_state(viewer, moderator, lecture, settings):
    settings.LIVE_RING_SIZE = 1
    cadre = await open_socket(viewer, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    q = await approved_question(cadre, mod, "r1")
    await mod.send({"type": "question.moderate", "question_id": q["id"], "action": "answer"})
    await mod.find("question.updated")
    await cadre.until("question.published")
    await cadre.until("question.updated")
    await cadre.send({"type": "hello", "last_seq": 0})
    state = await cadre.until("state")
    assert state["seq"] == 2
    assert state["questions"][0]["status"] == "answered"
    await cadre.send({"type": "hello", "last_seq": 99})  # a seq never issued
    assert (await cadre.until("state"))["seq"] == 2
    await cadre.close()
    await mod.close()


async def test_viewer_counts_are_broadcast(viewer, viewer2, lecture, settings):
    settings.LIVE_VIEWERS_INTERVAL_SECONDS = 0.3
    cadre = await open_socket(viewer, lecture.pk)
    other = await open_socket(viewer2, lecture.pk)
    seen = 0
    for _n in range(10):
        frame = await cadre.recv(timeout=2)
        assert frame["type"] == "viewers"
        seen = frame["count"]
        if seen == 2:
            break
    assert seen == 2
    await cadre.close()
    await other.close()


async def test_lecture_status_change_is_broadcast(viewer, lecture, settings):
    settings.LIVE_VIEWERS_INTERVAL_SECONDS = 0.3
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.until("viewers", timeout=2)  # the first tick records "scheduled"
    await orm(lambda: Lecture.objects.filter(pk=lecture.pk).update(status_override="live"))
    frame = await cadre.until("lecture.status", timeout=3)
    assert frame["status"] == "live"
    assert frame["seq"] == 1
    await cadre.close()


async def test_slow_asgi_socket_is_closed_4408_and_others_carry_on(
    viewer, viewer2, moderator, lecture, monkeypatch
):
    from livestream import hub as hub_module

    monkeypatch.setattr(hub_module, "ASGI_QUEUE_MAX", 3)
    cadre = await open_socket(viewer, lecture.pk)
    other = await open_socket(viewer2, lecture.pk)
    mod = await open_socket(moderator, lecture.pk)
    sink = next(s for s in hub_module.hub_get().rooms[lecture.pk] if s.user_id == viewer.pk)

    async def never_drains(**_kw):
        await asyncio.sleep(3600)

    assert isinstance(sink, hub_module.AsgiSink)
    monkeypatch.setattr(sink.consumer, "send", never_drains)
    from livestream import broadcast

    for n in range(6):
        broadcast.viewers(lecture_id=lecture.pk, count=n)
        await asyncio.sleep(0.05)
    assert await cadre.closed_with() == 4408
    counts = [(await other.until("viewers"))["count"] for _n in range(6)]
    assert counts == [0, 1, 2, 3, 4, 5]
    for client in (cadre, other, mod):
        await client.close()


async def test_a_server_side_failure_is_busy_and_retryable_never_invalid(
    viewer, moderator, lecture, monkeypatch
):
    """A locked database (or any failure that is not the sender's fault) answers ``busy``
    with ``retry_after`` and a Chinese "try again"; the socket stays usable."""
    from django.db import OperationalError

    from livestream import services

    question = await orm(
        lambda: Question.objects.create(
            lecture=lecture, author=viewer, text="问题", client_id="b", status="approved"
        )
    )

    def locked(**_kwargs):
        raise OperationalError("database is locked")

    mod = await open_socket(moderator, lecture.pk)
    monkeypatch.setattr(services, "question_moderate", locked)
    await mod.send({"type": "question.moderate", "question_id": question.pk, "action": "highlight"})
    error = await mod.until("error")
    assert error["code"] == "busy"
    assert error["retry_after"] >= 1
    assert "稍后再试" in error["message"]
    monkeypatch.undo()
    await mod.send({"type": "question.moderate", "question_id": question.pk, "action": "highlight"})
    assert (await mod.until("question.updated"))["question"]["highlighted"] is True
    await mod.close()


async def test_no_questions_once_the_lecture_has_ended(viewer, lecture):
    from datetime import timedelta

    from django.utils import timezone

    lecture.starts_at = timezone.now() - timedelta(days=1)
    await sync_to_async(lecture.save)()
    cadre = await open_socket(viewer, lecture.pk)
    await cadre.send({"type": "question.ask", "text": "还有人吗？", "client_id": "late"})
    error = await cadre.until("error")
    assert error["code"] == "forbidden"
    assert "已结束" in error["message"]
    assert not await orm(lambda: Question.objects.filter(client_id="late").exists())
    await cadre.close()


# -- the shared snapshot (one build of the published questions per lecture and seq) ------


async def test_shared_snapshot_keeps_each_viewers_own_parts(viewer, viewer2, moderator, lecture):
    mod = await open_socket(moderator, lecture.pk)
    asker = await open_socket(viewer, lecture.pk)
    published = await approved_question(asker, mod, "q-pub", anonymous=True)
    await asker.send({"type": "question.vote", "question_id": published["id"], "up": True})
    await asker.find("question.votes")
    # the asker's own pending question (asked again later: the rate limit is per interval)
    await orm(
        lambda: Question.objects.create(
            lecture=lecture, author=viewer, text="我自己的待审问题", client_id="q-mine"
        )
    )

    # two fresh sockets at the same seq: the published list is shared, the rest is not
    mine = await open_socket(viewer, lecture.pk)
    other = await open_socket(viewer2, lecture.pk)
    assert mine.state["seq"] == other.state["seq"]
    assert [q["id"] for q in mine.state["questions"]] == [published["id"]]
    assert [q["id"] for q in other.state["questions"]] == [published["id"]]
    assert mine.state["questions"][0]["voted"] is True
    assert other.state["questions"][0]["voted"] is False  # the asker's vote is theirs
    assert [q["text"] for q in mine.state["mine"]] == ["我自己的待审问题"]
    assert other.state["mine"] == []  # another viewer's pending question never leaks
    assert other.state["questions"][0]["author"] == "匿名"
    # a moderator connecting at that seq gets the moderators' form, not the viewers'
    mod2 = await open_socket(moderator, lecture.pk)
    assert mod2.state["questions"][0]["anonymous"] is True
    assert mod2.state["questions"][0]["author"] != "匿名"
    assert "anonymous" not in other.state["questions"][0]
    for client in (mod, asker, mine, other, mod2):
        await client.close()


async def test_shared_snapshot_follows_every_event(viewer, viewer2, moderator, lecture):
    mod = await open_socket(moderator, lecture.pk)
    asker = await open_socket(viewer, lecture.pk)
    first = await open_socket(viewer2, lecture.pk)
    assert first.state["questions"] == []
    published = await approved_question(asker, mod, "q-1")
    after_publish = await open_socket(viewer2, lecture.pk)
    assert [q["id"] for q in after_publish.state["questions"]] == [published["id"]]
    await mod.send(
        {"type": "question.moderate", "question_id": published["id"], "action": "highlight"}
    )
    await mod.find("question.updated")
    after_update = await open_socket(viewer2, lecture.pk)
    assert after_update.state["seq"] > after_publish.state["seq"]
    assert after_update.state["questions"][0]["highlighted"] is True
    for client in (mod, asker, first, after_publish, after_update):
        await client.close()
