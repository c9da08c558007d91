"""Write use cases of the live room. Broadcasts go through ``broadcast`` on commit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.models import Lecture
from livestream import broadcast
from livestream.clustering import question_cluster_assign
from livestream.events import question_payload
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.models import CLIENT_ID_MAX_CHARS, QUESTION_MAX_CHARS, Question, Vote
from livestream.selectors import RoomAccess, question_payload_for_moderators
from livestream.sensitive import text_is_sensitive
from portal.models import User
from portal.services import audit_log_write

REASON_MAX_CHARS = 200
MODERATION_ACTIONS = ("approve", "reject", "answer", "highlight", "unhighlight")


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
                )
        except IntegrityError:  # same client_id raced in from another process
            return AskResult(
                Question.objects.get(author=user, lecture=lecture, client_id=client_id),
                created=False,
            )
        question_cluster_assign(question=question)
        broadcast.moderation_queue(
            lecture_id=lecture.pk, question=question_payload_for_moderators(question)
        )
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

    if action == "approve":
        if was_visible:
            return question
        question.status, question.approved_at = Status.APPROVED, now
        question.reject_reason = ""
        fields = ["status", "approved_at", "reject_reason"]
    elif action == "reject":
        if question.status == Status.REJECTED:
            return question
        question.status, question.reject_reason = Status.REJECTED, reason
        question.highlighted = False
        fields = ["status", "reject_reason", "highlighted"]
    elif action == "answer":
        if question.status == Status.ANSWERED:
            return question
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
    question.save(update_fields=fields)
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
    if action in ("approve", "reject", "answer"):  # other moderators' queues drop it
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
    into_voters = Vote.objects.filter(question=into).values_list("user_id", flat=True)
    Vote.objects.filter(question=question).exclude(user_id__in=into_voters).exclude(
        user_id=into.author_id
    ).update(question=into)
    Vote.objects.filter(question=question).delete()
    into.votes = Vote.objects.filter(question=into, up=True).count()
    into.save(update_fields=["votes"])
    was_visible = question.is_visible
    question.status, question.merged_into, question.highlighted = Status.MERGED, into, False
    question.votes = 0
    question.save(update_fields=["status", "merged_into", "highlighted", "votes"])
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
