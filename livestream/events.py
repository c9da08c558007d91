"""Payload shapes of the live protocol (server → client), see docs/live-protocol.md."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NotRequired, TypedDict

from django.utils import timezone

from livestream.models import Question

# The protocol fixes this value (LIVE_PROTOCOL.md, "Question object"), whatever the UI language.
ANONYMOUS_AUTHOR = "匿名"


class QuestionPayload(TypedDict):
    id: int
    text: str
    author: str
    unit: NotRequired[str]
    status: str
    votes: int
    voted: bool
    highlighted: bool
    created_at: str
    answered_at: str | None
    # moderator views only (moderation.queue, state.queue)
    anonymous: NotRequired[bool]
    flagged: NotRequired[bool]
    cluster: NotRequired[int]
    cluster_size: NotRequired[int]
    merged_into: NotRequired[int]
    # the shared queue (issue 19): who is working on it, until when; where it came from
    claimed_by: NotRequired[ClaimHolder | None]
    claimed_until: NotRequired[str | None]
    venue: NotRequired[str]
    city: NotRequired[str]


class ClaimHolder(TypedDict):
    id: int
    name: str


class LecturePayload(TypedDict, total=False):
    id: int
    title: str
    status: str
    starts_at: str
    ends_at: str
    stream: str  # up / down: while the origin has (or just lost) the push; absent otherwise
    stream_url: str  # the origin's playlist, with ``stream``


class StatePayload(TypedDict):
    type: Literal["state"]
    seq: int
    lecture: LecturePayload
    questions: list[QuestionPayload]
    mine: list[QuestionPayload]
    viewers: int
    role: Literal["viewer", "moderator"]
    queue: NotRequired[list[QuestionPayload]]  # moderators only (additive, see docs)
    speaker: NotRequired[list[QuestionPayload]]  # moderators only: the speaker's list
    heartbeat_seconds: NotRequired[int]  # additive: send a heartbeat this often


class QuestionEvent(TypedDict):
    type: Literal["question.published", "question.updated", "moderation.queue"]
    question: QuestionPayload


class VotesEvent(TypedDict):
    type: Literal["question.votes"]
    counts: dict[str, int]


class RejectedEvent(TypedDict):
    type: Literal["question.rejected"]
    question_id: int
    reason: str


class ViewersEvent(TypedDict):
    type: Literal["viewers"]
    count: int


class StatusEvent(TypedDict, total=False):
    type: Literal["lecture.status"]
    status: str
    replay_url: str  # with "ended": the replay as it is now (an automatic one: just made)


class AttentionAnsweredEvent(TypedDict):
    type: Literal["attention.answered"]
    check_id: str


class UnitStats(TypedDict):
    """One row of the big screen: a top-level unit (a city, or a provincial body)."""

    id: int
    name: str
    viewers: int  # in the room now (a user with tabs on two processes counts in each)
    checked_in: int
    attendees: int


class WaitingQuestion(TypedDict):
    id: int
    text: str
    flagged: bool  # matched the sensitive-word list


class LectureStats(TypedDict):
    viewers: int  # sockets' distinct users in the room now (all processes)
    checked_in: int  # venue check-ins (集中收看)
    attendees: int  # cadres with any attendance: live, replay or in person (参训人次)
    online: int  # of which watched live online
    completed: int  # corrections applied
    enrolled: int
    questions_waiting: int  # pending questions (the moderators' queue)
    waiting: list[WaitingQuestion]  # the oldest few of them
    units: list[UnitStats]
    series: list[list[int]]  # viewers over time: [unix seconds, viewers], oldest first
    at: str


class StatsEvent(LectureStats):
    type: Literal["lecture.stats"]


class MergedEvent(TypedDict):
    """To the asker: their question was merged into ``into_id`` (whose text it carries)."""

    type: Literal["question.merged"]
    question_id: int
    into_id: int
    text: str


class ClaimEvent(TypedDict):
    """To moderators: these questions are taken by ``moderator`` until ``until`` (both
    null: released)."""

    type: Literal["moderation.claim"]
    question_ids: list[int]
    moderator: ClaimHolder | None
    until: str | None


class SpeakerListEvent(TypedDict):
    """To moderators (and the speaker view): the ordered list of questions for the
    speaker, whole; moderator question objects, first = next."""

    type: Literal["speaker.list"]
    questions: list[QuestionPayload]


class StreamEvent(TypedDict):
    """The origin's word on the lecture's stream (docs/live-protocol.md, additive)."""

    type: Literal["stream.status"]
    state: str  # up / down / ended / preview (moderators only)
    url: str  # the origin's playlist


# Every event the server sends after the state snapshot (broadcast.py sends only these).
LiveEvent = (
    ClaimEvent
    | SpeakerListEvent
    | StreamEvent
    | MergedEvent
    | QuestionEvent
    | VotesEvent
    | RejectedEvent
    | ViewersEvent
    | StatusEvent
    | AttentionAnsweredEvent
    | StatsEvent
)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return timezone.localtime(value).isoformat()


def question_payload(
    question: Question,
    *,
    voted: bool = False,
    for_moderator: bool = False,
    cluster_size: int | None = None,
    city: str | None = None,
    now: datetime | None = None,
) -> QuestionPayload:
    """The protocol's question object. Anonymous authors are hidden except from moderators."""
    author = question.author
    hide = question.anonymous and not for_moderator
    payload: QuestionPayload = {
        "id": question.pk,
        "text": question.text,
        "author": ANONYMOUS_AUTHOR if hide else author.display_name,
        "status": question.status,
        "votes": question.votes,
        "voted": voted,
        "highlighted": question.highlighted,
        "created_at": iso(question.created_at) or "",
        "answered_at": iso(question.answered_at),
    }
    if not hide and author.unit is not None:
        payload["unit"] = author.unit.name
    if for_moderator:
        payload["anonymous"] = question.anonymous
        payload["flagged"] = question.flagged
        # near-duplicates (additive, docs/live-protocol.md): the cluster and its size
        payload["cluster"] = int(question.cluster_id or question.pk)
        payload["cluster_size"] = cluster_size or 1
        if question.merged_into_id:
            payload["merged_into"] = int(question.merged_into_id)
        holder = claim_holder(question, now=now or timezone.now())
        payload["claimed_by"] = holder
        payload["claimed_until"] = iso(question.claimed_until) if holder else None
        venue = question.venue if question.venue_id is not None else None
        if venue is not None:
            payload["venue"] = venue.name
        if city:
            payload["city"] = city
    return payload


def claim_holder(question: Question, *, now: datetime) -> ClaimHolder | None:
    """The moderator whose claim on the question is still running, if any."""
    until = question.claimed_until
    if question.claimed_by_id is None or until is None or until <= now:
        return None
    moderator = question.claimed_by
    holder: ClaimHolder = {
        "id": int(question.claimed_by_id),
        "name": moderator.display_name if moderator is not None else "",
    }
    return holder
