"""The one place that sends live events (called from services, always on commit).

A broadcast is one call into the store: one Redis ``PUBLISH`` per event (plus ``seq`` and
the ring, atomically), received by one subscription per server process (``hub.py``), which
frames the payload once and writes it to every local socket of the lecture.

Audiences: ``all`` (everyone in the room), ``mod`` (moderators), ``u:<id>`` (one user).
Vote counts and viewer counts are coalesced by the hubs' ticks (≤ 1 per
LIVE_VOTES_INTERVAL_SECONDS and ≤ 1 per LIVE_VIEWERS_INTERVAL_SECONDS per lecture, across all
processes).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from django.db import close_old_connections, connection, transaction

from livestream.events import (
    AttentionAnsweredEvent,
    ClaimEvent,
    ClaimHolder,
    LectureStats,
    LiveEvent,
    MergedEvent,
    QuestionEvent,
    QuestionPayload,
    RejectedEvent,
    SpeakerListEvent,
    StatsEvent,
    StatusEvent,
    StreamEvent,
    ViewersEvent,
    VotesEvent,
)
from livestream.store import SEQ_CURRENT, SEQ_NEXT, SEQ_NONE, store_get

logger = logging.getLogger(__name__)

AUDIENCE_ALL = "all"
AUDIENCE_MODERATORS = "mod"


def audience_user(user_id: int) -> str:
    return f"u:{user_id}"


def encode(payload: LiveEvent | Mapping[str, Any]) -> str:
    """Encode an event once; every socket receives these exact bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def room_send(
    *, namespace: str, room_id: int, audience: str, payload: Mapping[str, Any], mode: str
) -> int:
    """Send one event to a room of a kind (``namespace``: "" for the live rooms; other
    apps' rooms, e.g. ``discussion``'s spaces, name theirs). Returns its seq (0 if lost)."""
    try:
        return store_get(namespace).publish(
            lecture_id=room_id, audience=audience, payload_json=encode(payload), mode=mode
        )
    except Exception:  # a lost hint, never a lost write: clients resync through hello/state
        logger.exception("broadcast failed (room %s%s, %s)", namespace, room_id, payload["type"])
        return 0


def _send(*, lecture_id: int, audience: str, payload: LiveEvent, mode: str) -> int:
    return room_send(
        namespace="", room_id=lecture_id, audience=audience, payload=payload, mode=mode
    )


def _on_commit(fn: Any) -> None:
    transaction.on_commit(fn, robust=True)


def question_published(*, lecture_id: int, question: QuestionPayload) -> None:
    event: QuestionEvent = {"type": "question.published", "question": question}
    _on_commit(
        lambda: _send(lecture_id=lecture_id, audience=AUDIENCE_ALL, payload=event, mode=SEQ_NEXT)
    )


def question_updated(*, lecture_id: int, question: QuestionPayload) -> None:
    event: QuestionEvent = {"type": "question.updated", "question": question}
    _on_commit(
        lambda: _send(lecture_id=lecture_id, audience=AUDIENCE_ALL, payload=event, mode=SEQ_NEXT)
    )


def moderation_queue(*, lecture_id: int, question: QuestionPayload) -> None:
    """A moderator's action on a queued question, for every console at once (the acting
    moderator's acknowledgement); carries the current seq."""
    event: QuestionEvent = {"type": "moderation.queue", "question": question}
    _on_commit(lambda: _send_moderators(lecture_id=lecture_id, payload=event))


def _send_moderators(*, lecture_id: int, payload: LiveEvent, mode: str = SEQ_CURRENT) -> int:
    return _send(lecture_id=lecture_id, audience=AUDIENCE_MODERATORS, payload=payload, mode=mode)


def moderation_queue_later(*, lecture_id: int, question_id: int) -> None:
    """A new question for the consoles, coalesced: the hubs' tick sends each question
    marked since the last one once, as it is then (``queue_flush``), at most once per
    LIVE_QUEUE_INTERVAL_SECONDS per lecture — 2,000 asks in minutes stay readable."""
    _on_commit(lambda: store_get().mark(kind="queue", lecture_id=lecture_id, item_id=question_id))


def queue_flush(*, lecture_id: int) -> int:
    """Send a ``moderation.queue`` for each question marked since the last flush."""
    from livestream.selectors import question_payloads_for_moderators

    close_old_connections()
    try:
        ids = store_get().take(kind="queue", lecture_id=lecture_id)
        if not ids:
            return 0
        sent = 0
        for question in question_payloads_for_moderators(lecture_id=lecture_id, ids=ids):
            event: QuestionEvent = {"type": "moderation.queue", "question": question}
            _send_moderators(lecture_id=lecture_id, payload=event)
            sent += 1
        return sent
    except Exception:
        logger.exception("queue flush failed (lecture %s)", lecture_id)
        return 0
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()


def moderation_claim(
    *, lecture_id: int, question_ids: list[int], moderator: ClaimHolder | None, until: str | None
) -> None:
    """Questions taken by a moderator (``moderator`` None: released) — for every console."""
    event: ClaimEvent = {
        "type": "moderation.claim",
        "question_ids": question_ids,
        "moderator": moderator,
        "until": until,
    }
    # no seq: clients apply the newest claim as it comes (they arrive in commit order)
    _on_commit(lambda: _send_moderators(lecture_id=lecture_id, payload=event, mode=SEQ_NONE))


def speaker_list(*, lecture_id: int, questions: list[QuestionPayload]) -> None:
    """The moderators' ordered list for the speaker, whole (it is short)."""
    event: SpeakerListEvent = {"type": "speaker.list", "questions": questions}
    _on_commit(lambda: _send_moderators(lecture_id=lecture_id, payload=event, mode=SEQ_NONE))


def question_rejected(*, lecture_id: int, user_id: int, question_id: int, reason: str) -> None:
    event: RejectedEvent = {
        "type": "question.rejected",
        "question_id": question_id,
        "reason": reason,
    }
    _on_commit(
        lambda: _send(
            lecture_id=lecture_id, audience=audience_user(user_id), payload=event, mode=SEQ_NONE
        )
    )


def question_merged(
    *, lecture_id: int, user_id: int, question_id: int, into_id: int, text: str
) -> None:
    """The asker's question was merged into another (its text: "已合并到…")."""
    event: MergedEvent = {
        "type": "question.merged",
        "question_id": question_id,
        "into_id": into_id,
        "text": text,
    }
    _on_commit(
        lambda: _send(
            lecture_id=lecture_id, audience=audience_user(user_id), payload=event, mode=SEQ_NONE
        )
    )


def lecture_status(*, lecture_id: int, status: str, replay_url: str = "") -> int:
    """Sent by the hub when a room's status flips (scheduled → live → ended)."""
    event: StatusEvent = {"type": "lecture.status", "status": status}
    if replay_url:
        event["replay_url"] = replay_url
    return _send(lecture_id=lecture_id, audience=AUDIENCE_ALL, payload=event, mode=SEQ_NEXT)


def stream_status(*, lecture_id: int, state: str, url: str, preview: bool) -> None:
    """The stream went up, down or ended (all, on commit); a preview: moderators only."""
    event: StreamEvent = {"type": "stream.status", "state": state, "url": url}
    audience, mode = (AUDIENCE_MODERATORS, SEQ_CURRENT) if preview else (AUDIENCE_ALL, SEQ_NEXT)
    _on_commit(lambda: _send(lecture_id=lecture_id, audience=audience, payload=event, mode=mode))


def viewers(*, lecture_id: int, count: int) -> None:
    event: ViewersEvent = {"type": "viewers", "count": count}
    _send(lecture_id=lecture_id, audience=AUDIENCE_ALL, payload=event, mode=SEQ_NONE)


def attention_answered(*, lecture_id: int, user_id: int, check_id: str) -> None:
    """The user answered an attention check: every tab of theirs drops its prompt."""
    event: AttentionAnsweredEvent = {"type": "attention.answered", "check_id": check_id}
    _send(lecture_id=lecture_id, audience=audience_user(user_id), payload=event, mode=SEQ_NONE)


def lecture_stats(*, lecture_id: int, stats: LectureStats) -> None:
    """The organiser dashboard's figures (moderators only; sent by the hub's tick)."""
    event: StatsEvent = {"type": "lecture.stats", **stats}
    _send(lecture_id=lecture_id, audience=AUDIENCE_MODERATORS, payload=event, mode=SEQ_NONE)


# ---------------------------------------------------------------------------
# Vote counts: coalesced to at most one event per interval per lecture.
# ---------------------------------------------------------------------------


def votes_changed(*, lecture_id: int, question_id: int) -> None:
    """Mark a question's count dirty; the hubs' vote tick sends it (``hub.Hub._vote_loop``)."""
    _on_commit(lambda: store_get().mark(kind="votes", lecture_id=lecture_id, item_id=question_id))


def votes_flush(*, lecture_id: int) -> int:
    """Send one ``question.votes`` with the current counts of the dirty questions."""
    from livestream.selectors import question_vote_counts

    close_old_connections()
    try:
        ids = store_get().take(kind="votes", lecture_id=lecture_id)
        if not ids:
            return 0
        counts = question_vote_counts(question_ids=ids)
        event: VotesEvent = {
            "type": "question.votes",
            "counts": {str(k): v for k, v in counts.items()},
        }
        return _send(lecture_id=lecture_id, audience=AUDIENCE_ALL, payload=event, mode=SEQ_NEXT)
    except Exception:
        logger.exception("vote flush failed (lecture %s)", lecture_id)
        return 0
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()
