"""After the lecture: lecture spaces and study groups, their threads and posts.

A ``Space`` is where people talk: one per lecture (its 讨论区, opened when the lecture ends)
or one per study group (学习群). Both hold ``Thread``s of ``Post``s; a study group's space
has a thread per lecture of its programme and topic threads started by its leaders.
Read state is one ``ReadMarker`` per (user, thread), never a row per user per post.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from courses.models import Lecture, Programme
from portal.models import OrgUnit

POST_MAX_CHARS = 2000
TITLE_MAX_CHARS = 100
REASON_MAX_CHARS = 200
CLIENT_ID_MAX_CHARS = 64


class Moderation(models.TextChoices):
    """What a post that matches the sensitive-word list does."""

    POST = "post", _("Publish, then review (post-moderation)")
    PRE = "pre", _("Hold for review before publishing (pre-moderation)")


class ProgrammeDiscussion(models.Model):
    """A programme's discussion settings (absent: post-moderation)."""

    programme = models.OneToOneField(
        Programme,
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="discussion_settings",
    )
    moderation = models.CharField(
        _("sensitive posts"), max_length=4, choices=Moderation.choices, default=Moderation.POST
    )

    class Meta:
        verbose_name = _("discussion settings")
        verbose_name_plural = _("discussion settings")

    def __str__(self) -> str:
        return str(self.programme)


class Space(models.Model):
    class Kind(models.TextChoices):
        LECTURE = "lecture", _("Lecture space")
        GROUP = "group", _("Study group")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    programme = models.ForeignKey(
        Programme, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    lecture = models.OneToOneField(
        Lecture,
        verbose_name=_("lecture"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="discussion_space",
    )
    opens_at = models.DateTimeField(
        _("opens at"),
        null=True,
        blank=True,
        help_text=_("Lecture spaces open when the lecture ends unless opened earlier."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("discussion space")
        verbose_name_plural = _("discussion spaces")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="lecture", lecture__isnull=False)
                    | models.Q(kind="group", lecture__isnull=True)
                ),
                name="space_lecture_iff_lecture_kind",
            )
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.LECTURE:
            return f"{self.lecture} · {_('discussion')}"
        group = getattr(self, "group", None)
        return str(group) if group is not None else f"space {self.pk}"


class StudyGroup(models.Model):
    """学习群: cadres of a unit (e.g. a township) or a class, with a thread per lecture."""

    space = models.OneToOneField(
        Space, verbose_name=_("space"), on_delete=models.CASCADE, related_name="group"
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The unit whose cadres the group gathers; staff over it manage the group."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("study group")
        verbose_name_plural = _("study groups")
        ordering = ("name", "pk")

    def __str__(self) -> str:
        return self.name


class GroupMember(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        LEADER = "leader", _("Leader")

    group = models.ForeignKey(
        StudyGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="study_groups",
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    added_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("group member")
        verbose_name_plural = _("group members")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["group", "user"], name="group_member_unique")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "group"], name="group_member_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.group}"


class Thread(models.Model):
    space = models.ForeignKey(
        Space, verbose_name=_("space"), on_delete=models.CASCADE, related_name="threads"
    )
    lecture = models.ForeignKey(
        Lecture,
        verbose_name=_("lecture"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("A study group's thread about one lecture."),
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX_CHARS)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    pinned = models.BooleanField(_("pinned"), default=False)
    locked = models.BooleanField(_("locked"), default=False)
    post_count = models.PositiveIntegerField(_("posts"), default=0)
    last_post_id = models.BigIntegerField(default=0, editable=False)
    last_post_at = models.DateTimeField(_("last post"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        ordering = ("-pinned", "-last_post_at", "-pk")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["space", "lecture"],
                condition=models.Q(lecture__isnull=False),
                name="thread_one_per_lecture",
            )
        ]

    def __str__(self) -> str:
        return self.title


class Post(models.Model):
    class Status(models.TextChoices):
        PUBLISHED = "published", _("Published")
        PENDING = "pending", _("Awaiting review")
        HIDDEN = "hidden", _("Hidden")

    thread = models.ForeignKey(
        Thread, verbose_name=_("thread"), on_delete=models.CASCADE, related_name="posts"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.CASCADE,
        related_name="discussion_posts",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("reply to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
    )
    text = models.TextField(_("text"), validators=[MaxLengthValidator(POST_MAX_CHARS)])
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PUBLISHED
    )
    flagged = models.BooleanField(
        _("flagged"), default=False, help_text=_("Matched the sensitive-word list.")
    )
    reviewed = models.BooleanField(_("reviewed"), default=False)
    hidden_reason = models.CharField(
        _("reason for hiding"), max_length=REASON_MAX_CHARS, blank=True
    )
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("hidden by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    hidden_at = models.DateTimeField(_("hidden at"), null=True, blank=True)
    like_count = models.PositiveIntegerField(_("likes"), default=0)
    # the @names that resolved to people when posted: {display name: user id}
    mentions = models.JSONField(_("mentions"), default=dict, blank=True)
    client_id = models.CharField(_("client id"), max_length=CLIENT_ID_MAX_CHARS)
    created_at = models.DateTimeField(_("posted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ("thread", "pk")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["author", "thread", "client_id"], name="post_unique_client_id"
            )
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["thread", "status", "id"], name="post_thread_status_id"),
            models.Index(fields=["author", "created_at"], name="post_author_created"),
            models.Index(
                fields=["status", "flagged", "reviewed"],
                name="post_review_queue",
                condition=models.Q(flagged=True, reviewed=False),
            ),
        ]

    def __str__(self) -> str:
        return self.text[:40]


class PostLike(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("like")
        verbose_name_plural = _("likes")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["post", "user"], name="post_like_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ♥ {self.post_id}"


class ReportReason(models.TextChoices):
    """Discourse's flag set."""

    SPAM = "spam", _("Spam")
    OFF_TOPIC = "off_topic", _("Off topic")
    INAPPROPRIATE = "inappropriate", _("Inappropriate")
    ILLEGAL = "illegal", _("Illegal")
    OTHER = "other", _("Something else")


class PostReport(models.Model):
    class Outcome(models.TextChoices):
        OPEN = "open", _("Open")
        UPHELD = "upheld", _("Upheld (post hidden)")
        DISMISSED = "dismissed", _("Dismissed")

    post = models.ForeignKey(
        Post, verbose_name=_("post"), on_delete=models.CASCADE, related_name="reports"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=20, choices=ReportReason.choices)
    detail = models.CharField(_("detail"), max_length=REASON_MAX_CHARS, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.OPEN
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("reported at"), auto_now_add=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ("-created_at",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["post", "reporter"], name="post_report_once")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["outcome", "created_at"], name="post_report_outcome")
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} · {self.post_id}"


class ReadMarker(models.Model):
    """The newest post a user has seen in a thread."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="+")
    last_post_id = models.BigIntegerField(default=0)
    read_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "thread"], name="read_marker_unique")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "read_at"], name="read_marker_user_at")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.thread_id}: {self.last_post_id}"


class DigestPlan(models.Model):
    """One digest per person per day at most (the unique row is the guarantee)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    unread = models.PositiveIntegerField(default=0)
    reminder_id = models.BigIntegerField(null=True, blank=True)
    planned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "day"], name="digest_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.day}"


class UnitActivity(models.Model):
    """Posts and distinct participants per (space, unit), kept at post time so the reports
    read summaries, never the posts (counts roll up the tree by path in the selectors)."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="+")
    posts = models.PositiveIntegerField(default=0)
    participants = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["space", "unit"], name="unit_activity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.space_id}/{self.unit_id}: {self.posts}"


class Participant(models.Model):
    """A person who posted in a space (counted once in ``UnitActivity.participants``)."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["space", "user"], name="participant_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.space_id}"
