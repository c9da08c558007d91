"""Notices: reminder schedules, message templates, the delivery outbox, the in-site inbox.

PostgreSQL is the source of truth: a ``Delivery`` row exists per (reminder, user, channel)
before anything is sent, and every state change is a conditional UPDATE.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    INBOX = "inbox", _("In-site inbox")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    DINGTALK = "dingtalk", _("DingTalk")
    ZWDD = "zwdd", _("Zhezhengding")


PUSH_CHANNELS: tuple[str, ...] = (Channel.ZWDD, Channel.DINGTALK, Channel.WECHAT, Channel.SMS)


class ReminderKind(models.TextChoices):
    REMINDER_24H = "reminder_24h", _("24 hours before")
    REMINDER_1H = "reminder_1h", _("1 hour before")
    INVITATION = "invitation", _("Invitation")
    CUSTOM = "custom", _("Custom notice")
    RANKING = "ranking", _("Ranking bulletin (通报)")
    # Sent by the discussion app to an explicit list of people; the only kind without a
    # lecture (notifications/services/digests.py).
    DIGEST = "digest", _("Discussion digest")


class Reminder(models.Model):
    """A notice about one lecture, sent when ``due_at`` has passed (claimed by beat).

    A ``digest`` has no lecture: its audience is its ``explicit_recipients``."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        PLANNING = "planning", _("Planning")
        DISPATCHING = "dispatching", _("Sending")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    lecture = models.ForeignKey(
        "courses.Lecture",
        verbose_name=_("lecture"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ReminderKind.choices)
    due_at = models.DateTimeField(_("due at"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.SCHEDULED
    )
    note = models.CharField(
        _("note"),
        max_length=200,
        blank=True,
        help_text=_("Extra text for custom notices (placeholder {{ note }})."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    planned_at = models.DateTimeField(_("planned at"), null=True, blank=True)
    planning_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ("due_at",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["lecture", "kind"],
                condition=models.Q(kind__in=["reminder_24h", "reminder_1h"]),
                name="reminder_unique_default_kind",
            ),
            # Every notice but a digest is about a lecture; a digest is about none.
            models.CheckConstraint(
                condition=models.Q(kind="digest", lecture__isnull=True)
                | (~models.Q(kind="digest") & models.Q(lecture__isnull=False)),
                name="reminder_lecture_unless_digest",
                violation_error_message=_("Only a discussion digest has no lecture."),
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["status", "due_at"], name="reminder_status_due")
        ]

    def __str__(self) -> str:
        if self.lecture_id is None:
            when = f" · {timezone.localtime(self.due_at):%Y-%m-%d}" if self.due_at else ""
            return f"{self.get_kind_display()}{when}"
        return f"{self.lecture} · {self.get_kind_display()}"


class ReminderRecipient(models.Model):
    """One person a reminder of an explicit audience (a digest) goes to."""

    reminder = models.ForeignKey(
        Reminder,
        verbose_name=_("reminder"),
        on_delete=models.CASCADE,
        related_name="explicit_recipients",
        db_index=False,  # the unique key's index leads with reminder_id
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="+",
    )

    class Meta:
        verbose_name = _("addressee")
        verbose_name_plural = _("addressees")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["reminder", "user"], name="reminderrecipient_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reminder_id}/{self.user_id}"


class MessageTemplate(models.Model):
    """The text for one (channel, kind); Django template syntax with fixed placeholders.

    Placeholders: ``title``, ``time``, ``speaker``, ``link``, ``programme``, ``note``.
    Without a row the built-in text in ``templates/notifications/messages/`` is used.
    """

    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=ReminderKind.choices)
    subject = models.CharField(
        _("subject"), max_length=200, blank=True, help_text=_("Title for push channels.")
    )
    body = models.TextField(_("text"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["channel", "kind"], name="messagetemplate_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} · {self.get_kind_display()}"

    def clean(self) -> None:
        from notifications.rendering import template_validate

        template_validate(channel=self.channel, subject=self.subject, body=self.body)


class ChannelBinding(models.Model):
    """Where a user is reached on a push channel (phone, openid+appid, userid, accountId)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="channel_bindings",
    )
    channel = models.CharField(
        _("channel"),
        max_length=20,
        choices=[(c.value, c.label) for c in Channel if c != Channel.INBOX],
    )
    address = models.CharField(
        _("address"),
        max_length=100,
        help_text=_("Phone number, WeChat openid, DingTalk userid or Zhezhengding account id."),
    )
    appid = models.CharField(
        _("WeChat appid"), max_length=40, blank=True, help_text=_("Only for WeChat.")
    )
    verified = models.BooleanField(_("verified"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("channel binding")
        verbose_name_plural = _("channel bindings")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "channel"], name="channelbinding_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_channel_display()}"

    def clean(self) -> None:
        from notifications.rendering import binding_validate

        binding_validate(channel=self.channel, address=self.address, appid=self.appid)


class NotifyPreference(models.Model):
    """A user's push channels in order, or an opt-out (the in-site inbox always works)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notify_preference",
    )
    channel_order = models.CharField(
        _("channel order"),
        max_length=60,
        blank=True,
        help_text=_("Comma-separated, e.g. zwdd,wechat,sms; empty = site default."),
    )
    opted_out = models.BooleanField(_("no push notices"), default=False)

    class Meta:
        verbose_name = _("notice preference")
        verbose_name_plural = _("notice preferences")

    def __str__(self) -> str:
        return str(self.user)


class ChannelState(models.Model):
    """A channel paused after a fatal provider error (balance, template, quota)."""

    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, unique=True)
    paused = models.BooleanField(_("paused"), default=False)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)

    class Meta:
        verbose_name = _("channel state")
        verbose_name_plural = _("channel states")

    def __str__(self) -> str:
        return self.get_channel_display()


class Delivery(models.Model):
    """The outbox: one row per (reminder, user, channel), claimed before any provider call."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        ACCEPTED = "accepted", _("Accepted")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown")
        SKIPPED = "skipped", _("Skipped")
        CANCELLED = "cancelled", _("Cancelled")

    reminder = models.ForeignKey(
        Reminder,
        verbose_name=_("reminder"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,  # the dedupe key's index leads with reminder_id
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=100, blank=True)
    hop = models.PositiveSmallIntegerField(_("fallback step"), default=0)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    batch_id = models.CharField(_("batch"), max_length=40, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=100, blank=True)
    error_code = models.CharField(_("error code"), max_length=60, blank=True)
    error_detail = models.CharField(_("error detail"), max_length=300, blank=True)
    fallback_after = models.DateTimeField(
        _("fall back after"),
        null=True,
        blank=True,
        help_text=_("Without a delivery receipt by then, the next channel is tried."),
    )
    fallback_done = models.BooleanField(default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["reminder", "user", "channel"], name="delivery_dedupe_key"
            )
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["channel", "next_attempt_at"],
                condition=models.Q(status="queued"),
                name="delivery_queued",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(status="sending"),
                name="delivery_sending",
            ),
            models.Index(fields=["batch_id"], name="delivery_batch"),
            models.Index(fields=["channel", "provider_message_id"], name="delivery_provider_id"),
            models.Index(fields=["reminder", "channel", "status"], name="delivery_progress"),
        ]

    def __str__(self) -> str:
        return f"{self.reminder_id}/{self.user_id}/{self.channel}: {self.status}"


class InboxMessage(models.Model):
    """A notice in the user's in-site inbox."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="inbox_messages",
    )
    reminder = models.ForeignKey(
        Reminder, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    announcement = models.ForeignKey(
        "Announcement", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("received"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbox message")
        verbose_name_plural = _("inbox messages")
        ordering = ("-created_at", "-id")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user", "reminder"],
                condition=models.Q(reminder__isnull=False),
                name="inbox_unique_reminder",
            ),
            models.UniqueConstraint(
                fields=["user", "announcement"],
                condition=models.Q(announcement__isnull=False),
                name="inbox_unique_announcement",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["user"], condition=models.Q(read_at__isnull=True), name="inbox_unread"
            ),
            models.Index(fields=["user", "-created_at"], name="inbox_user_created"),
        ]

    def __str__(self) -> str:
        return self.title


class Announcement(models.Model):
    """An organisation-department document (发文) published to a subtree of the org tree."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    unit = models.ForeignKey(
        "portal.OrgUnit",
        verbose_name=_("published to"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Everyone in this unit's subtree receives it."),
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.title


def attachment_upload_to(instance: AnnouncementAttachment, filename: str) -> str:
    """An unguessable storage name; the original file name is kept in ``name``."""
    from notifications.attachments import attachment_storage_name

    return attachment_storage_name(filename=filename)


class AnnouncementAttachment(models.Model):
    """A file of an announcement, served only to its recipients and its organisers
    (``notifications:attachment_download``), never as a plain media URL."""

    announcement = models.ForeignKey(
        Announcement, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to=attachment_upload_to, max_length=200)
    name = models.CharField(_("name"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name or str(self.file.name)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The storage name is random: remember what the organiser uploaded.
        if not self.name and self.file and not getattr(self.file, "_committed", True):
            self.name = os.path.basename(self.file.name or "")[:200]
        super().save(*args, **kwargs)


class ProgrammeOptOut(models.Model):
    """A user who wants no push notices about one programme (the in-site inbox still gets
    them, as with ``NotifyPreference.opted_out``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notify_programme_opt_outs",
    )
    programme = models.ForeignKey(
        "courses.Programme",
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("programme opt-out")
        verbose_name_plural = _("programme opt-outs")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "programme"], name="programmeoptout_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} × {self.programme_id}"


class WebhookReplay(models.Model):
    """Keys of receipt webhooks already accepted (replays are rejected)."""

    key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("webhook key")
        verbose_name_plural = _("webhook keys")

    def __str__(self) -> str:
        return self.key


# ---------------------------------------------------------------------------------------
# 通报 (supervision ranking) sent after every lecture (notifications/services/bulletins.py)
# ---------------------------------------------------------------------------------------


class RankingSubscription(models.Model):
    """An organiser's order: after every lecture of the programme, send the ranking of the
    units of ``level`` to each ranked unit's leaders and to the organiser."""

    class Level(models.TextChoices):
        CITY = "city", _("City")
        COUNTY = "county", _("County / district")
        TOWNSHIP = "township", _("Township / street")
        VILLAGE = "village", _("Village / community")

    class RankBy(models.TextChoices):
        ATTENDANCE = "attendance", _("Attendance rate")
        COMPLETION = "completion", _("Completion rate")

    programme = models.ForeignKey(
        "courses.Programme",
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    level = models.CharField(_("level"), max_length=20, choices=Level.choices)
    unit = models.ForeignKey(
        "portal.OrgUnit",
        verbose_name=_("within"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Rank only the units below this one; empty = your whole area."),
    )
    rank_by = models.CharField(
        _("rank by"), max_length=20, choices=RankBy.choices, default=RankBy.ATTENDANCE
    )
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("ranking subscription")
        verbose_name_plural = _("ranking subscriptions")
        ordering = ("-created_at",)
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["programme"], condition=models.Q(active=True), name="rankingsub_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.programme} · {self.get_level_display()}"


class RankingDispatch(models.Model):
    """One sending of a subscription's ranking, for one lecture: unique, so a re-run (or a
    second beat) sends nothing twice. The notices go through an ordinary ``Reminder`` of
    kind ``ranking`` (the outbox, the inbox and the channels, with their guarantees)."""

    subscription = models.ForeignKey(
        RankingSubscription,
        verbose_name=_("subscription"),
        on_delete=models.CASCADE,
        related_name="dispatches",
    )
    lecture = models.ForeignKey(
        "courses.Lecture", verbose_name=_("lecture"), on_delete=models.CASCADE, related_name="+"
    )
    reminder = models.OneToOneField(
        Reminder,
        verbose_name=_("notice"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ranking_dispatch",
    )
    units = models.PositiveIntegerField(_("units ranked"), default=0)
    summary = models.TextField(_("text"), blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("ranking dispatch")
        verbose_name_plural = _("ranking dispatches")
        ordering = ("-created_at",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["subscription", "lecture"], name="rankingdispatch_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription} · {self.lecture_id}"
