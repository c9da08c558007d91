"""Read use cases of the live room: who may enter, the room snapshot, vote counts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from courses.models import Lecture
from courses.selectors import enrolment_get_active, lecture_is_moderator, user_in_audience
from livestream.clustering import cluster_sizes
from livestream.events import LecturePayload, QuestionPayload, StatePayload, iso, question_payload
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.models import Question, Vote, stream_public_name
from livestream.stats import unit_cities
from livestream.store import store_get
from livestream.streaming.cdn import cdn_settings, configured_play_urls
from livestream.streaming.origin import origin_playlist_url
from portal.models import User
from portal.process_state import process_state_reset

STATE_QUESTIONS_LIMIT = 100
STATE_QUEUE_LIMIT = 200

Role = Literal["viewer", "moderator"]


@dataclass(frozen=True)
class RoomAccess:
    """An authorised seat in a lecture's room."""

    user: User
    lecture: Lecture
    role: Role

    @property
    def is_moderator(self) -> bool:
        return self.role == "moderator"


@dataclass(frozen=True, slots=True)
class Seat:
    """What a live socket keeps of its ``RoomAccess`` after connecting: ids, no model
    instances (thousands of idle sockets per process; docs/live-protocol.md)."""

    user_id: int
    lecture_id: int
    role: Role

    @classmethod
    def of(cls, access: RoomAccess) -> Seat:
        return cls(user_id=int(access.user.pk), lecture_id=int(access.lecture.pk), role=access.role)

    @property
    def is_moderator(self) -> bool:
        return self.role == "moderator"


def room_access_for_seat(*, user: User, seat: Seat) -> RoomAccess:
    """The ``RoomAccess`` of a seat authorised at connect, for one command: the lecture is
    read afresh (one query), the role is the seat's. ``user`` is the socket's user."""
    if int(user.pk) != seat.user_id:
        raise LiveError(LiveErrorCode.FORBIDDEN)
    lecture = lecture_get_for_room(lecture_id=seat.lecture_id)
    if lecture is None:
        raise LiveError(LiveErrorCode.NOT_FOUND)
    return RoomAccess(user=user, lecture=lecture, role=seat.role)


def lecture_get_for_room(*, lecture_id: int) -> Lecture | None:
    return (
        Lecture.objects.select_related("programme", "programme__organiser_unit")
        .filter(pk=lecture_id)
        .first()
    )


def room_access_get(*, user: User, lecture_id: int) -> RoomAccess:
    """Fetch the lecture and authorise ``user`` for its room, in one step.

    Moderators (organisers over the programme, named moderators) always enter. Viewers are
    cadres with an active enrolment in the programme or in the programme's audience (they
    may watch before enrolling; enrolment is what counts for credit, see docs/attendance.md).
    Raises ``LiveError`` NOT_SIGNED_IN / NOT_FOUND / FORBIDDEN (close 4401/4404/4403).
    """
    if not user.is_authenticated or not user.is_active:
        raise LiveError(LiveErrorCode.NOT_SIGNED_IN)
    lecture = lecture_get_for_room(lecture_id=lecture_id)
    if lecture is None:
        raise LiveError(LiveErrorCode.NOT_FOUND)
    if lecture_is_moderator(user=user, lecture=lecture):
        return RoomAccess(user=user, lecture=lecture, role="moderator")
    if not lecture.programme.is_published:
        raise LiveError(LiveErrorCode.NOT_FOUND)
    if enrolment_get_active(user=user, programme_id=lecture.programme_id) is not None:
        return RoomAccess(user=user, lecture=lecture, role="viewer")
    if user_in_audience(user=user, programme=lecture.programme):
        return RoomAccess(user=user, lecture=lecture, role="viewer")
    raise LiveError(LiveErrorCode.FORBIDDEN)


def _questions(lecture: Lecture) -> QuerySet[Question]:
    return Question.objects.filter(lecture=lecture).select_related("author", "author__unit")


def question_list_visible(
    *, lecture: Lecture, limit: int = STATE_QUESTIONS_LIMIT
) -> list[Question]:
    """Published and answered questions, newest first."""
    qs = _questions(lecture).filter(status__in=[Question.Status.APPROVED, Question.Status.ANSWERED])
    return list(qs.order_by("-created_at", "-pk")[:limit])


def _for_moderators(qs: QuerySet[Question]) -> QuerySet[Question]:
    return qs.select_related("claimed_by", "venue")


def question_list_pending(*, lecture: Lecture, limit: int = STATE_QUEUE_LIMIT) -> list[Question]:
    """The moderation queue, oldest first."""
    qs = _for_moderators(_questions(lecture).filter(status=Question.Status.PENDING))
    return list(qs.order_by("created_at", "pk")[:limit])


def speaker_questions(*, lecture_id: int) -> list[Question]:
    """The moderators' list for the speaker, in order (first: next)."""
    qs = Question.objects.filter(lecture_id=lecture_id, speaker_position__isnull=False)
    qs = _for_moderators(qs.select_related("author", "author__unit"))
    return list(qs.order_by("speaker_position", "pk"))


def question_list_mine_pending(*, user: User, lecture: Lecture) -> list[Question]:
    qs = _questions(lecture).filter(author=user, status=Question.Status.PENDING)
    return list(qs.order_by("-created_at", "-pk")[:STATE_QUESTIONS_LIMIT])


def question_ids_voted(*, user: User, question_ids: Iterable[int]) -> set[int]:
    return set(
        Vote.objects.filter(user=user, question_id__in=list(question_ids)).values_list(
            "question_id", flat=True
        )
    )


def question_vote_counts(*, question_ids: Iterable[int]) -> dict[int, int]:
    return dict(Question.objects.filter(pk__in=list(question_ids)).values_list("pk", "votes"))


def lecture_payload(*, lecture: Lecture) -> LecturePayload:
    payload: LecturePayload = {
        "id": lecture.pk,
        "title": lecture.title,
        "status": lecture.status,
        "starts_at": iso(lecture.starts_at) or "",
        "ends_at": iso(lecture.compute_ends_at()) or "",
    }
    stream = lecture_stream_state(lecture=lecture)
    if stream:
        payload["stream"] = stream
        payload["stream_url"] = lecture_stream_url(lecture=lecture)
    return payload


def lecture_stream_state(*, lecture: Lecture) -> str:
    """ "up" while the origin has the lecture's push, "down" in its grace period, "" when
    no push went live (or the lecture ended): the clock and the pasted URL rule then."""
    if lecture.stream_live_since is None or lecture.stream_ended_at is not None:
        return ""
    return "down" if lecture.stream_down_since is not None else "up"


def lecture_stream_url(*, lecture: Lecture) -> str:
    """The player's live source: the origin's playlist once a push went live, else the
    lecture's stream URL (a CDN or the demo's playlist)."""
    if lecture.stream_live_since is not None:
        return origin_playlist_url(lecture_id=lecture.pk)
    config = cdn_settings()
    if config.provider and not lecture.stream_url:  # the CDN's signed playlist
        urls = configured_play_urls(
            config=config, stream=stream_public_name(lecture.pk), now=time.time()
        )
        return urls["hls"]
    return lecture.stream_url


# The published questions as every viewer (or every moderator) sees them, built once per
# lecture and seq and shared by the sockets that connect meanwhile: (seq, built at, list).
# Every change to a published question is broadcast with the next seq, so an entry built
# after ``seq`` was read reflects at least the state at that seq (the argument room_state
# makes for one socket); changes that no event announces show within SHARED_STATE_SECONDS.
SHARED_STATE_SECONDS = 2.0
# (seq, built at, the payloads, their encoded sizes)
_shared: dict[tuple[int, bool], tuple[int, float, list[QuestionPayload], list[int]]] = {}
_shared_lock = threading.Lock()

# A state must fit daphne's websocket message limit (--websocket-max-message-size, 64 KiB:
# autobahn refuses larger outgoing messages too, and the socket closes 1011). The published
# questions take at most STATE_QUESTIONS_BYTES (the newest first; older ones are in the
# page's history), a moderator's queue what is left: its other items follow the state as
# ``moderation.queue`` events (docs/live-protocol.md).
STATE_MAX_BYTES = 60 * 1024
STATE_QUESTIONS_BYTES = 32 * 1024


@process_state_reset
def _shared_forget() -> None:
    with _shared_lock:
        _shared.clear()


def _published_payloads(
    *, lecture: Lecture, seq: int, for_moderator: bool
) -> tuple[list[QuestionPayload], list[int]]:
    key = (int(lecture.pk), for_moderator)
    now = time.monotonic()
    with _shared_lock:
        hit = _shared.get(key)
    if hit is not None and hit[0] == seq and now - hit[1] < SHARED_STATE_SECONDS:
        return hit[2], hit[3]
    payloads = [
        question_payload(q, for_moderator=for_moderator)
        for q in question_list_visible(lecture=lecture)
    ]
    sizes = [_size(p) for p in payloads]
    with _shared_lock:
        _shared[key] = (seq, now, payloads, sizes)
    return payloads, sizes


def _size(payload: Any) -> int:
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()) + 1


def _fitting(sizes: list[int], budget: int) -> int:
    """How many of the items (in order) fit in ``budget`` bytes."""
    used = 0
    for count, size in enumerate(sizes):
        used += size
        if used > budget:
            return count
    return len(sizes)


def room_state(*, access: RoomAccess) -> StatePayload:
    """The snapshot a client starts from (``room_state_parts`` without the queue's rest)."""
    return room_state_parts(access=access)[0]


def room_state_parts(*, access: RoomAccess) -> tuple[StatePayload, list[QuestionPayload]]:
    """The snapshot a client starts from, within STATE_MAX_BYTES, and (moderators) the
    queue items that did not fit: they follow it as ``moderation.queue`` events. ``seq`` is
    read first, so every event after it is either already reflected here or still to come
    (events are idempotent).

    The published questions are shared per lecture and seq (``_published_payloads``); what
    is the user's own (their votes, their pending questions) is read per socket."""
    store = store_get()
    lecture = access.lecture
    seq = store.seq_current(lecture_id=lecture.pk)
    mod = access.is_moderator
    everything, sizes = _published_payloads(lecture=lecture, seq=seq, for_moderator=mod)
    shared = everything[: _fitting(sizes, STATE_QUESTIONS_BYTES)]
    voted = question_ids_voted(user=access.user, question_ids=[q["id"] for q in shared])
    state: StatePayload = {
        "type": "state",
        "seq": seq,
        "lecture": lecture_payload(lecture=lecture),
        "questions": [
            cast(QuestionPayload, {**q, "voted": True}) if q["id"] in voted else q for q in shared
        ],
        "mine": [
            question_payload(q)
            for q in question_list_mine_pending(user=access.user, lecture=lecture)
        ],
        "viewers": store.presence_total(lecture_id=lecture.pk),
        "role": access.role,
        "heartbeat_seconds": int(settings.ATTENDANCE_HEARTBEAT_SECONDS),
    }
    rest: list[QuestionPayload] = []
    if mod:
        state["speaker"] = moderator_payloads(
            lecture_id=lecture.pk, questions=speaker_questions(lecture_id=lecture.pk)
        )
        queue = moderator_payloads(
            lecture_id=lecture.pk, questions=question_list_pending(lecture=lecture)
        )
        room = STATE_MAX_BYTES - _size({**state, "queue": []})
        kept = _fitting([_size(q) for q in queue], room)
        state["queue"], rest = queue[:kept], queue[kept:]
    return state, rest


def moderator_payloads(*, lecture_id: int, questions: list[Question]) -> list[QuestionPayload]:
    """Moderators' question objects: cluster sizes in one query, cities from the cache.
    The questions come with ``author__unit``, ``claimed_by`` and ``venue`` (``_for_moderators``)."""
    sizes = cluster_sizes(lecture_id=lecture_id, cluster_ids=[q.cluster_id or 0 for q in questions])
    cities = unit_cities(unit_ids={q.author.unit_id for q in questions if q.author.unit_id})
    now = timezone.now()
    return [
        question_payload(
            q,
            for_moderator=True,
            cluster_size=sizes.get(q.cluster_id or 0),
            city=cities.get(q.author.unit_id) if q.author.unit_id else None,
            now=now,
        )
        for q in questions
    ]


def question_payloads_for_moderators(
    *, lecture_id: int, ids: Iterable[int]
) -> list[QuestionPayload]:
    """The moderators' objects of these questions as they are now, in id order."""
    qs = Question.objects.filter(lecture_id=lecture_id, pk__in=list(ids))
    questions = list(_for_moderators(qs.select_related("author", "author__unit")).order_by("pk"))
    return moderator_payloads(lecture_id=lecture_id, questions=questions)


def question_payload_for_moderators(question: Question) -> QuestionPayload:
    return moderator_payloads(lecture_id=question.lecture_id, questions=[question])[0]
