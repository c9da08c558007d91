"""Write use cases of the live room. Broadcasts go through ``broadcast`` on commit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.attendance.checkin import attendance_venue_id
from courses.models import Lecture
from livestream import broadcast
from livestream.clustering import question_cluster_assign
from livestream.events import ClaimHolder, claim_holder, iso, question_payload
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.models import CLIENT_ID_MAX_CHARS, QUESTION_MAX_CHARS, Question, Vote
from livestream.selectors import (
    RoomAccess,
    moderator_payloads,
    question_payload_for_moderators,
    speaker_questions,
)
from livestream.sensitive import text_is_sensitive
from portal.models import User
from portal.services import audit_log_write

REASON_MAX_CHARS = 200
MODERATION_ACTIONS = ("approve", "reject", "answer", "highlight", "unhighlight")
QUEUE_ACTIONS = ("approve", "reject", "answer")  # what takes a question out of the queue


@dataclass(frozen=True)
class AskResult:
    question: Question
    created: bool


def question_ask(*, access: RoomAccess, text: str, anonymous: bool, client_id: str) -> AskResult:
    """Ask a question (pending until a moderator approves it).

    Idempotent by ``client_id``: asking again with the same id returns the first question.
    Limits: one question per user per LIVE_QUESTION_INTERVAL_SECONDS, at most
    LIVE_QUESTIONS_PER_LECTURE per user and lecture.
    """
    text = text.strip()
    if not text:
        raise LiveError(LiveErrorCode.INVALID, _("Please type your question."))
    if len(text) > QUESTION_MAX_CHARS:
        raise LiveError(LiveErrorCode.TOO_LONG)
    if not client_id or len(client_id) > CLIENT_ID_MAX_CHARS:
        raise LiveError(LiveErrorCode.INVALID)
    user, lecture = access.user, access.lecture
    existing = Question.objects.filter(author=user, lecture=lecture, client_id=client_id).first()
    if existing is not None:
        return AskResult(existing, created=False)
    if lecture.status == Lecture.Status.ENDED:  # the speaker has left: nobody would answer
        raise LiveError(LiveErrorCode.FORBIDDEN, _("This lecture has ended; questions are closed."))
    with transaction.atomic():
        # One user's asks are serialised (two tabs cannot beat the limits together).
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        existing = Question.objects.filter(
            author=user, lecture=lecture, client_id=client_id
        ).first()
        if existing is not None:
            return AskResult(existing, created=False)
        now = timezone.now()
        interval = timedelta(seconds=int(settings.LIVE_QUESTION_INTERVAL_SECONDS))
        last = (
            Question.objects.filter(author=user, created_at__gt=now - interval)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if last is not None:
            wait = math.ceil((last + interval - now).total_seconds())
            raise LiveError(
                LiveErrorCode.RATE_LIMITED,
                _("Please wait %(seconds)s seconds before asking again.") % {"seconds": wait},
                retry_after=max(wait, 1),
            )
        asked = Question.objects.filter(author=user, lecture=lecture).count()
        if asked >= int(settings.LIVE_QUESTIONS_PER_LECTURE):
            raise LiveError(
                LiveErrorCode.RATE_LIMITED,
                _("You have asked %(count)s questions in this lecture, the most allowed.")
                % {"count": asked},
                retry_after=3600,
            )
        try:
            with transaction.atomic():
                question = Question.objects.create(
                    lecture=lecture,
                    author=user,
                    text=text,
                    anonymous=anonymous,
                    client_id=client_id,
                    flagged=text_is_sensitive(text),
                    venue_id=attendance_venue_id(user_id=user.pk, lecture_id=lecture.pk),
                )
        except IntegrityError:  # same client_id raced in from another process
            return AskResult(
                Question.objects.get(author=user, lecture=lecture, client_id=client_id),
                created=False,
            )
        question_cluster_assign(question=question)
        broadcast.moderation_queue_later(lecture_id=lecture.pk, question_id=question.pk)
    return AskResult(question, created=True)


def _question_in_room(*, access: RoomAccess, question_id: int, lock: bool) -> Question:
    qs = Question.objects.select_related("author", "author__unit").filter(
        lecture=access.lecture, pk=question_id
    )
    if lock:
        qs = qs.select_for_update(of=("self",))
    question = qs.first()
    if question is None:
        raise LiveError(LiveErrorCode.NOT_FOUND, _("This question does not exist."))
    return question


@dataclass(frozen=True)
class VoteResult:
    question_id: int
    votes: int
    voted: bool


def question_vote(*, access: RoomAccess, question_id: int, up: bool) -> VoteResult:
    """Upvote (``up``) or withdraw one's vote. One vote per user and question."""
    with transaction.atomic():
        question = _question_in_room(access=access, question_id=question_id, lock=False)
        if not question.is_visible:
            raise LiveError(LiveErrorCode.NOT_FOUND, _("This question does not exist."))
        changed = False
        if up:
            try:
                with transaction.atomic():
                    _vote, changed = Vote.objects.get_or_create(
                        question=question, user=access.user, defaults={"up": True}
                    )
            except IntegrityError:  # a double click from two tabs
                changed = False
            if changed:
                Question.objects.filter(pk=question.pk).update(votes=F("votes") + 1)
        else:
            deleted, _detail = Vote.objects.filter(question=question, user=access.user).delete()
            changed = deleted > 0
            if changed:
                Question.objects.filter(pk=question.pk, votes__gt=0).update(votes=F("votes") - 1)
        if changed:
            broadcast.votes_changed(lecture_id=access.lecture.pk, question_id=question.pk)
        votes = Question.objects.values_list("votes", flat=True).get(pk=question.pk)
    return VoteResult(question_id=question.pk, votes=votes, voted=up)


@transaction.atomic
def question_moderate(
    *, access: RoomAccess, question_id: int, action: str, reason: str = ""
) -> Question:
    """approve / reject (the asker is told the reason) / answer / highlight / unhighlight."""
    if not access.is_moderator:
        raise LiveError(LiveErrorCode.FORBIDDEN, _("Only the lecture's moderators can do that."))
    if action not in MODERATION_ACTIONS:
        raise LiveError(LiveErrorCode.INVALID)
    reason = reason.strip()
    if len(reason) > REASON_MAX_CHARS:
        raise LiveError(LiveErrorCode.TOO_LONG, _("A reason can have at most 200 characters."))
    question = _question_in_room(access=access, question_id=question_id, lock=True)
    lecture_id = access.lecture.pk
    was_visible = question.is_visible
    now = timezone.now()
    Status = Question.Status
    fields: list[str] = []
    if action in QUEUE_ACTIONS:
        _claim_check(access=access, question=question, now=now)

    if action == "approve":
        if was_visible:
            return _unchanged(access=access, question=question)
        question.status, question.approved_at = Status.APPROVED, now
        question.reject_reason = ""
        fields = ["status", "approved_at", "reject_reason"]
    elif action == "reject":
        if question.status == Status.REJECTED:
            return _unchanged(access=access, question=question)
        question.status, question.reject_reason = Status.REJECTED, reason
        question.highlighted = False
        fields = ["status", "reject_reason", "highlighted"]
    elif action == "answer":
        if question.status == Status.ANSWERED:
            return _unchanged(access=access, question=question)
        question.status, question.answered_at = Status.ANSWERED, now
        question.approved_at = question.approved_at or now
        fields = ["status", "answered_at", "approved_at"]
    elif action in ("highlight", "unhighlight"):
        if not was_visible:
            raise LiveError(
                LiveErrorCode.INVALID, _("Publish the question before highlighting it.")
            )
        want = action == "highlight"
        if question.highlighted == want:
            return question
        if want:
            others = list(
                Question.objects.select_related("author", "author__unit")
                .select_for_update(of=("self",))
                .filter(lecture_id=lecture_id, highlighted=True)
                .exclude(pk=question.pk)
            )
            for other in others:
                other.highlighted = False
                other.save(update_fields=["highlighted"])
                broadcast.question_updated(lecture_id=lecture_id, question=question_payload(other))
        question.highlighted = want
        fields = ["highlighted"]
    on_list = question.speaker_position is not None
    if action in QUEUE_ACTIONS:  # handled: the claim is done, the speaker has it
        question.claimed_by, question.claimed_until = None, None
        fields += ["claimed_by", "claimed_until"]
        if action in ("reject", "answer") and on_list:
            question.speaker_position = None
            fields.append("speaker_position")
    question.save(update_fields=fields)
    if "speaker_position" in fields:
        _speaker_list_send(lecture_id=lecture_id)
    audit_log_write(
        user=access.user,
        action=f"question.{action}",
        target=question,
        detail={"lecture": lecture_id, "reason": reason} if reason else {"lecture": lecture_id},
    )

    payload = question_payload(question)
    if question.is_visible and not was_visible:
        broadcast.question_published(lecture_id=lecture_id, question=payload)
    elif was_visible:
        broadcast.question_updated(lecture_id=lecture_id, question=payload)
    if action in QUEUE_ACTIONS:  # other moderators' queues drop it
        broadcast.moderation_queue(
            lecture_id=lecture_id, question=question_payload_for_moderators(question)
        )
    if action == "reject":
        broadcast.question_rejected(
            lecture_id=lecture_id,
            user_id=question.author_id,
            question_id=question.pk,
            reason=reason,
        )
    return question


@transaction.atomic
def question_merge(*, access: RoomAccess, question_id: int, into_id: int) -> Question:
    """Merge a question into another (a near-duplicate into its cluster's representative):
    its votes join the other's (one per person), it leaves every queue, and its asker is
    told what it was merged into; never silently dropped. Audited."""
    if not access.is_moderator:
        raise LiveError(LiveErrorCode.FORBIDDEN, _("Only the lecture's moderators can do that."))
    if question_id == into_id:
        raise LiveError(LiveErrorCode.INVALID, _("A question cannot be merged into itself."))
    lecture_id = access.lecture.pk
    first, second = sorted((question_id, into_id))  # lock in id order: no deadlock
    _question_in_room(access=access, question_id=first, lock=True)
    _question_in_room(access=access, question_id=second, lock=True)
    question = _question_in_room(access=access, question_id=question_id, lock=False)
    into = _question_in_room(access=access, question_id=into_id, lock=False)
    Status = Question.Status
    if question.status in (Status.MERGED, Status.ANSWERED) or into.status in (
        Status.MERGED,
        Status.REJECTED,
    ):
        raise LiveError(LiveErrorCode.INVALID, _("These questions cannot be merged."))
    now = timezone.now()
    _claim_check(access=access, question=question, now=now)
    into_voters = Vote.objects.filter(question=into).values_list("user_id", flat=True)
    Vote.objects.filter(question=question).exclude(user_id__in=into_voters).exclude(
        user_id=into.author_id
    ).update(question=into)
    Vote.objects.filter(question=question).delete()
    into.votes = Vote.objects.filter(question=into, up=True).count()
    into.save(update_fields=["votes"])
    was_visible = question.is_visible
    on_list = question.speaker_position is not None
    question.status, question.merged_into, question.highlighted = Status.MERGED, into, False
    question.votes, question.speaker_position = 0, None
    question.claimed_by, question.claimed_until = None, None
    question.save(
        update_fields=[
            "status",
            "merged_into",
            "highlighted",
            "votes",
            "speaker_position",
            "claimed_by",
            "claimed_until",
        ]
    )
    if on_list or into.speaker_position is not None:  # the votes shown there changed
        _speaker_list_send(lecture_id=lecture_id)
    audit_log_write(
        user=access.user,
        action="question.merge",
        target=question,
        detail={"lecture": lecture_id, "into": into.pk},
    )
    if was_visible:  # viewers' lists drop it (its status says merged)
        broadcast.question_updated(lecture_id=lecture_id, question=question_payload(question))
    if into.is_visible:
        broadcast.votes_changed(lecture_id=lecture_id, question_id=into.pk)
    broadcast.moderation_queue(
        lecture_id=lecture_id, question=question_payload_for_moderators(question)
    )
    broadcast.moderation_queue(
        lecture_id=lecture_id, question=question_payload_for_moderators(into)
    )
    broadcast.question_merged(
        lecture_id=lecture_id,
        user_id=question.author_id,
        question_id=question.pk,
        into_id=into.pk,
        text=into.text,
    )
    return question


# ---------------------------------------------------------------------------
# The shared queue (issue 19): claims, a cluster rejected at once, the speaker's list
# ---------------------------------------------------------------------------


def _require_moderator(access: RoomAccess) -> None:
    if not access.is_moderator:
        raise LiveError(LiveErrorCode.FORBIDDEN, _("Only the lecture's moderators can do that."))


def _claim_check(*, access: RoomAccess, question: Question, now: datetime) -> None:
    """Refuse to act on a question another moderator's running claim holds."""
    holder = claim_holder(question, now=now)
    if holder is not None and holder["id"] != access.user.pk:
        left = (question.claimed_until - now).total_seconds() if question.claimed_until else 1
        raise LiveError(
            LiveErrorCode.CLAIMED,
            _("%(name)s is handling this question.") % {"name": holder["name"]},
            retry_after=max(1, math.ceil(left)),
        )


def _unchanged(*, access: RoomAccess, question: Question) -> Question:
    """A queue action on a question already in that state: nothing to write, but the
    consoles are sent it again (one that missed the change drops it now)."""
    broadcast.moderation_queue(
        lecture_id=access.lecture.pk, question=question_payload_for_moderators(question)
    )
    return question


def _cluster_pending(*, access: RoomAccess, question: Question) -> list[Question]:
    """The question and the pending questions of its cluster, locked in id order."""
    cluster = question.cluster_id or question.pk
    qs = (
        Question.objects.select_related("author", "author__unit", "claimed_by", "venue")
        .select_for_update(of=("self",))
        .filter(lecture=access.lecture, status=Question.Status.PENDING)
        .filter(models.Q(cluster_id=cluster) | models.Q(pk=question.pk))
        .order_by("pk")
    )
    return list(qs)


@dataclass(frozen=True)
class ClaimResult:
    question_ids: list[int]
    until: datetime | None


@transaction.atomic
def question_claim(
    *, access: RoomAccess, question_id: int, release: bool = False, cluster: bool = False
) -> ClaimResult:
    """Take a pending question (with ``cluster``: its whole cluster) so the other moderators
    see it as taken, or ``release`` one's own claim. A claim runs LIVE_CLAIM_SECONDS from
    its last touch (claiming again renews it). Questions another moderator holds are left
    alone; asking for one of those alone is ``claimed``."""
    _require_moderator(access)
    question = _question_in_room(access=access, question_id=question_id, lock=True)
    now = timezone.now()
    if question.status != Question.Status.PENDING:
        raise LiveError(LiveErrorCode.INVALID, _("This question is no longer waiting for review."))
    targets = _cluster_pending(access=access, question=question) if cluster else [question]
    mine = [q for q in targets if claim_holder(q, now=now) in (None, _holder(access))]
    if question.pk not in {q.pk for q in mine}:
        _claim_check(access=access, question=question, now=now)
    if release:
        mine = [q for q in mine if q.claimed_by_id == access.user.pk]
        until = None
    else:
        until = now + timedelta(seconds=int(settings.LIVE_CLAIM_SECONDS))
    ids = [q.pk for q in mine]
    if ids:
        Question.objects.filter(pk__in=ids).update(
            claimed_by=None if release else access.user, claimed_until=until
        )
        broadcast.moderation_claim(
            lecture_id=access.lecture.pk,
            question_ids=ids,
            moderator=None if release else _holder(access),
            until=iso(until),
        )
    return ClaimResult(question_ids=ids, until=until)


def _holder(access: RoomAccess) -> ClaimHolder:
    return {"id": int(access.user.pk), "name": access.user.display_name}


@transaction.atomic
def question_cluster_reject(*, access: RoomAccess, question_id: int, reason: str) -> list[int]:
    """Reject a pending question and every pending question of its cluster with one reason
    (spam asked many ways); each asker is told. Questions another moderator holds stay."""
    _require_moderator(access)
    reason = reason.strip()
    if len(reason) > REASON_MAX_CHARS:
        raise LiveError(LiveErrorCode.TOO_LONG, _("A reason can have at most 200 characters."))
    question = _question_in_room(access=access, question_id=question_id, lock=True)
    now = timezone.now()
    _claim_check(access=access, question=question, now=now)
    if question.status != Question.Status.PENDING:
        raise LiveError(LiveErrorCode.INVALID, _("This question is no longer waiting for review."))
    lecture_id = access.lecture.pk
    rejected: list[Question] = []
    for q in _cluster_pending(access=access, question=question):
        holder = claim_holder(q, now=now)
        if holder is not None and holder["id"] != access.user.pk:
            continue
        q.status, q.reject_reason, q.highlighted = Question.Status.REJECTED, reason, False
        q.claimed_by, q.claimed_until = None, None
        rejected.append(q)
    Question.objects.bulk_update(
        rejected, ["status", "reject_reason", "highlighted", "claimed_by", "claimed_until"]
    )
    audit_log_write(
        user=access.user,
        action="question.reject_cluster",
        target=question,
        detail={"lecture": lecture_id, "reason": reason, "questions": [q.pk for q in rejected]},
    )
    for payload in moderator_payloads(lecture_id=lecture_id, questions=rejected):
        broadcast.moderation_queue(lecture_id=lecture_id, question=payload)
    for q in rejected:
        broadcast.question_rejected(
            lecture_id=lecture_id, user_id=q.author_id, question_id=q.pk, reason=reason
        )
    return [q.pk for q in rejected]


def _speaker_list_send(*, lecture_id: int) -> None:
    broadcast.speaker_list(
        lecture_id=lecture_id,
        questions=moderator_payloads(
            lecture_id=lecture_id, questions=speaker_questions(lecture_id=lecture_id)
        ),
    )


@transaction.atomic
def speaker_list_set(*, access: RoomAccess, question_ids: list[int]) -> list[int]:
    """Replace the speaker's list with these published questions, in this order (a drag in
    any console sends the whole new order; the last one wins, every console follows)."""
    _require_moderator(access)
    limit = int(settings.LIVE_SPEAKER_LIST_MAX)
    if len(question_ids) > limit:
        raise LiveError(
            LiveErrorCode.INVALID,
            _("The speaker's list can hold at most %(n)s questions.") % {"n": limit},
        )
    if len(set(question_ids)) != len(question_ids):
        raise LiveError(LiveErrorCode.INVALID, _("A question is on the list twice."))
    lecture_id = access.lecture.pk
    # the lecture's listed rows and the new ones, locked (two consoles reorder in turn)
    rows = {
        q.pk: q
        for q in Question.objects.select_for_update()
        .filter(lecture_id=lecture_id)
        .filter(models.Q(speaker_position__isnull=False) | models.Q(pk__in=question_ids))
        .order_by("pk")
    }
    for pk in question_ids:
        row = rows.get(pk)
        if row is None:
            raise LiveError(LiveErrorCode.NOT_FOUND, _("This question does not exist."))
        if row.status != Question.Status.APPROVED:
            raise LiveError(
                LiveErrorCode.INVALID, _("Only published, unanswered questions go on the list.")
            )
    position = {pk: i + 1 for i, pk in enumerate(question_ids)}
    changed = [q for q in rows.values() if q.speaker_position != position.get(q.pk)]
    for q in changed:
        q.speaker_position = position.get(q.pk)
    Question.objects.bulk_update(changed, ["speaker_position"])
    if changed:
        audit_log_write(
            user=access.user,
            action="question.speaker_list",
            target=access.lecture,
            detail={"lecture": lecture_id, "questions": question_ids},
        )
    _speaker_list_send(lecture_id=lecture_id)
    return question_ids
