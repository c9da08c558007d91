"""Live-room Q&A: questions asked during a lecture and the votes on them."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from courses.models import Lecture, Venue

QUESTION_MAX_CHARS = 300
CLIENT_ID_MAX_CHARS = 64


class Question(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting review")
        APPROVED = "approved", _("Published")
        REJECTED = "rejected", _("Rejected")
        ANSWERED = "answered", _("Answered")
        MERGED = "merged", _("Merged")

    lecture = models.ForeignKey(
        Lecture, verbose_name=_("lecture"), on_delete=models.CASCADE, related_name="questions"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.CASCADE,
        related_name="live_questions",
    )
    text = models.CharField(
        _("text"),
        max_length=QUESTION_MAX_CHARS,
        validators=[MaxLengthValidator(QUESTION_MAX_CHARS)],
    )
    anonymous = models.BooleanField(_("anonymous"), default=False)
    client_id = models.CharField(_("client id"), max_length=CLIENT_ID_MAX_CHARS)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    highlighted = models.BooleanField(_("highlighted"), default=False)
    flagged = models.BooleanField(
        _("flagged"), default=False, help_text=_("Matched the sensitive-word list.")
    )
    reject_reason = models.CharField(_("reason for rejection"), max_length=200, blank=True)
    votes = models.PositiveIntegerField(_("votes"), default=0)
    # near-duplicates (livestream/clustering.py): the id of the cluster's first question
    cluster_id = models.BigIntegerField(_("cluster"), null=True, blank=True, db_index=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # a moderator working on it (issue 19): the others see it as taken until the claim
    # expires (LIVE_CLAIM_SECONDS after the last touch); no task clears it, readers compare
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("claimed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    # the moderators' ordered list for the speaker (1 = next); null: not on it
    speaker_position = models.PositiveSmallIntegerField(
        _("position on the speaker's list"), null=True, blank=True
    )
    # asked from a venue the asker checked in to (台下 questions)
    venue = models.ForeignKey(
        Venue,
        verbose_name=_("venue"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    approved_at = models.DateTimeField(_("published at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ("-created_at",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["author", "lecture", "client_id"], name="question_unique_client_id"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["lecture", "status", "-created_at"], name="question_room"),
            models.Index(fields=["author", "-created_at"], name="question_author_recent"),
        ]

    def __str__(self) -> str:
        return self.text[:50]

    @property
    def is_visible(self) -> bool:
        """Shown to every viewer (published or answered)."""
        return self.status in (self.Status.APPROVED, self.Status.ANSWERED)


class Vote(models.Model):
    question = models.ForeignKey(
        Question, verbose_name=_("question"), on_delete=models.CASCADE, related_name="vote_set"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="live_votes",
    )
    up = models.BooleanField(_("up"), default=True)
    created_at = models.DateTimeField(_("voted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["question", "user"], name="vote_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.question_id}"


# ---------------------------------------------------------------------------
# Stream ingest (livestream/streaming/, docs/streaming.md)
# ---------------------------------------------------------------------------
STREAM_KEY_CHARS = 32


class StreamKey(models.Model):
    """A lecture's secret push key: whoever holds it can broadcast the lecture."""

    lecture = models.OneToOneField(
        Lecture, verbose_name=_("lecture"), on_delete=models.CASCADE, related_name="stream_key"
    )
    key = models.CharField(_("push key"), max_length=STREAM_KEY_CHARS, unique=True)
    rotated_at = models.DateTimeField(_("issued at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stream key")
        verbose_name_plural = _("stream keys")

    def __str__(self) -> str:
        return str(self.lecture)

    @property
    def public_name(self) -> str:
        return stream_public_name(self.lecture_id)


def stream_public_name(lecture_id: int) -> str:
    """The stream's name on the origin (playlists, recordings): never the key."""
    return f"lecture-{lecture_id}"


class StreamSession(models.Model):
    """One push from an encoder, from on_publish to on_publish_done."""

    lecture = models.ForeignKey(
        Lecture, verbose_name=_("lecture"), on_delete=models.CASCADE, related_name="+"
    )
    preview = models.BooleanField(
        _("preview"), default=False, help_text=_("Pushed outside the lecture's window.")
    )
    address = models.GenericIPAddressField(_("encoder address"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    last_update_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    class Meta:
        verbose_name = _("stream session")
        verbose_name_plural = _("stream sessions")
        ordering = ("-started_at",)
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["lecture", "ended_at"], name="stream_session_open")
        ]

    def __str__(self) -> str:
        return f"{self.lecture_id} {self.started_at:%Y-%m-%d %H:%M}"


class Recording(models.Model):
    """A recorded publish session (the origin's file); the replay joins them in order."""

    lecture = models.ForeignKey(
        Lecture, verbose_name=_("lecture"), on_delete=models.CASCADE, related_name="+"
    )
    path = models.CharField(_("file"), max_length=500, unique=True)
    recorded_at = models.DateTimeField(_("recorded"))
    preview = models.BooleanField(_("preview"), default=False)
    seconds = models.FloatField(_("duration (s)"), null=True, blank=True)

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        ordering = ("lecture", "recorded_at", "pk")

    def __str__(self) -> str:
        return self.path
