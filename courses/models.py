"""Catalogue and enrolment: programmes, lectures, speakers, venues, enrolments."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    URLValidator,
)
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import OrgUnit

http_url_validator = URLValidator(
    schemes=["http", "https"], message=_("Enter an http:// or https:// address.")
)
description_validator = MaxLengthValidator(settings.LECTURE_DESCRIPTION_MAX_CHARS)


def validate_stream_url(value: str) -> None:
    """An absolute http(s) URL, or a site path such as ``/demo/hls/live.m3u8``."""
    if value.startswith("/") and not value.startswith("//"):
        if any(c.isspace() for c in value):
            raise ValidationError(_("Enter an http:// or https:// address."), code="invalid")
        return
    http_url_validator(value)


class Speaker(models.Model):
    name = models.CharField(_("name"), max_length=50)
    title = models.CharField(_("title"), max_length=200, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    bio = models.TextField(_("biography"), blank=True, validators=[description_validator])
    photo = models.ImageField(_("photo"), upload_to="speakers/", blank=True)

    class Meta:
        verbose_name = _("speaker")
        verbose_name_plural = _("speakers")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Venue(models.Model):
    """An in-person viewing site (集中收看点): a party school or a hall."""

    class Kind(models.TextChoices):
        PARTY_SCHOOL = "party_school", _("Party school")
        HALL = "hall", _("Meeting hall")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    unit = models.ForeignKey(
        OrgUnit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="venues"
    )
    capacity = models.PositiveIntegerField(_("capacity"), validators=[MinValueValidator(1)])
    address = models.CharField(_("address"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("venue")
        verbose_name_plural = _("venues")
        ordering = ("name",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=models.Q(capacity__gte=1), name="venue_capacity_positive"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Programme(models.Model):
    """A training programme (专题培训), e.g. ten weekly lectures on AI."""

    class EnrolmentMode(models.TextChoices):
        VOLUNTARY = "voluntary", _("Voluntary")
        ASSIGNED = "assigned", _("Assigned")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, validators=[description_validator])
    organiser_unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("organising unit"),
        on_delete=models.PROTECT,
        related_name="organised_programmes",
    )
    audience = models.ManyToManyField(
        OrgUnit,
        verbose_name=_("audience"),
        related_name="audience_programmes",
        help_text=_("Cadres in these units' subtrees may enrol."),
    )
    enrolment_mode = models.CharField(
        _("enrolment"),
        max_length=20,
        choices=EnrolmentMode.choices,
        default=EnrolmentMode.VOLUNTARY,
    )
    replays_count = models.BooleanField(_("replays count for credit"), default=True)
    attention_check_minutes = models.PositiveSmallIntegerField(
        _("attention check (minutes)"),
        default=0,
        validators=[MaxValueValidator(240)],
        help_text=_(
            "Ask viewers “Still watching?” at random times about this many minutes apart; "
            "credit pauses until they answer. 0 = off."
        ),
    )
    is_published = models.BooleanField(_("published"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.title


class Lecture(models.Model):
    """One lecture (堂课) of a programme."""

    class Category(models.TextChoices):
        GENERAL = "general", _("General knowledge")
        INDUSTRY = "industry", _("Industry overview")
        APPLICATION = "application", _("Industrial application")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Upcoming")
        LIVE = "live", _("Live")
        ENDED = "ended", _("Ended")

    class Override(models.TextChoices):
        AUTO = "", _("Automatic (by time)")
        LIVE = "live", _("Force live")
        ENDED = "ended", _("Force ended")

    programme = models.ForeignKey(
        Programme,
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="lectures",
    )
    sequence = models.PositiveSmallIntegerField(_("lecture no."), validators=[MinValueValidator(1)])
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True, validators=[description_validator])
    category = models.CharField(
        _("category"), max_length=20, choices=Category.choices, default=Category.GENERAL
    )
    speakers = models.ManyToManyField(
        Speaker, verbose_name=_("speakers"), related_name="lectures", blank=True
    )
    starts_at = models.DateTimeField(_("starts at"))
    duration_minutes = models.PositiveIntegerField(
        _("duration (minutes)"), default=90, validators=[MinValueValidator(1)]
    )
    ends_at = models.DateTimeField(_("ends at"), editable=False)
    status_override = models.CharField(
        _("status override"), max_length=10, choices=Override.choices, blank=True, default=""
    )
    stream_url = models.CharField(
        _("live stream URL (HLS)"), max_length=500, blank=True, validators=[validate_stream_url]
    )
    replay_url = models.CharField(
        _("replay URL (HLS)"), max_length=500, blank=True, validators=[validate_stream_url]
    )
    # Status from the stream (livestream/streaming: the origin's publish hooks): when the
    # hall's encoder went live, when its push stopped (the grace period runs from then) and
    # when the grace ran out. The organiser's override still wins (``status_at``).
    stream_live_since = models.DateTimeField(_("stream live since"), null=True, blank=True)
    stream_down_since = models.DateTimeField(_("stream down since"), null=True, blank=True)
    stream_ended_at = models.DateTimeField(_("stream ended at"), null=True, blank=True)
    credit_hours = models.DecimalField(
        _("study-hour credit"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("2.0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    completion_ratio = models.DecimalField(
        _("completion threshold"),
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Share of the duration to watch for completion; empty = site default."),
    )
    venues = models.ManyToManyField(
        Venue, verbose_name=_("venues"), related_name="lectures", blank=True
    )
    moderators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("extra moderators"),
        related_name="moderated_lectures",
        blank=True,
    )

    class Meta:
        verbose_name = _("lecture")
        verbose_name_plural = _("lectures")
        ordering = ("starts_at",)
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["programme", "sequence"], name="lecture_unique_sequence"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=1), name="lecture_duration_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="lecture_ends_after_start",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["starts_at"], name="lecture_starts_at"),
            models.Index(fields=["ends_at"], name="lecture_ends_at"),
        ]

    def __str__(self) -> str:
        return f"{self.programme} · {self.sequence}. {self.title}"

    def save(self, *args: object, **kwargs: object) -> None:
        # ends_at is derived state stored for range queries ("live now", overlaps).
        self.ends_at = self.compute_ends_at()
        update_fields = kwargs.get("update_fields")
        # the credit is derived too when the programme's rule says so (minute bands)
        if update_fields is None or {"duration_minutes", "credit_hours"} & set(update_fields):  # type: ignore[call-overload]
            rule = StudyHourRule.objects.filter(programme_id=self.programme_id).first()
            if rule is not None:
                self.credit_hours = rule.lecture_hours(
                    duration_minutes=int(self.duration_minutes), own_hours=self.credit_hours
                )
        if update_fields is not None and "ends_at" not in update_fields:  # type: ignore[operator]
            kwargs["update_fields"] = [*update_fields, "ends_at"]  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def compute_ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=int(self.duration_minutes or 0))

    # Lectures whose (new) times a caller checks together with this one, e.g. the other rows
    # of one admin inline save; ``clean`` then ignores their stored times (a swap is valid).
    overlap_checked_elsewhere: frozenset[int] = frozenset()

    def status_at(self, now: datetime) -> str:
        """The override; else the stream's word (live while it publishes or is in its
        grace period, ended once the grace ran out); else the clock. ``lecture_status_q``
        is the same rule as a filter."""
        if self.status_override:
            return self.status_override
        if self.stream_ended_at is not None and self.stream_ended_at <= now:
            return self.Status.ENDED
        if self.stream_live_since is not None and self.stream_live_since <= now:
            return self.Status.LIVE
        if now < self.starts_at:
            return self.Status.SCHEDULED
        if now < self.compute_ends_at():
            return self.Status.LIVE
        return self.Status.ENDED

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

    def get_status_display_now(self) -> str:
        return str(self.Status(self.status).label)

    @property
    def effective_completion_ratio(self) -> Decimal:
        if self.completion_ratio is not None:
            return self.completion_ratio
        return Decimal(str(settings.ATTENDANCE_COMPLETION_RATIO))

    @property
    def completion_seconds(self) -> int:
        """The completion rule's threshold: live plus replay seconds that complete this
        lecture (a venue check-in completes it too; ``courses.attendance.credit``)."""
        return math.ceil(self.effective_completion_ratio * self.duration_minutes * 60)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.starts_at and self.duration_minutes and self.programme_id:
            ends_at = self.compute_ends_at()
            clash = (
                Lecture.objects.filter(
                    programme_id=self.programme_id,
                    starts_at__lt=ends_at,
                    ends_at__gt=self.starts_at,
                )
                .exclude(pk=self.pk)
                .exclude(pk__in=self.overlap_checked_elsewhere)
                .order_by("starts_at")
                .first()
            )
            if clash is not None:
                errors.setdefault("starts_at", []).append(
                    str(
                        _("This time overlaps lecture %(seq)s “%(title)s” of the programme.")
                        % {"seq": clash.sequence, "title": clash.title}
                    )
                )
        if self.completion_ratio is not None and not (0 < self.completion_ratio <= 1):
            errors.setdefault("completion_ratio", []).append(
                str(_("The threshold must be greater than 0 and at most 1."))
            )
        if errors:
            raise ValidationError(errors)


DEFAULT_TEST_BONUS = Decimal("0.5")  # 学时 for passing a lecture's test, unless the rule says


def default_study_hour_bands() -> list[list[str | int]]:
    """The colleges' published rule: a course of ≥ 30 min earns 1 学时, 15–30 min 0.5,
    shorter 0.25 (bands are inclusive lower bounds in minutes)."""
    return [[30, "1.0"], [15, "0.5"], [0, "0.25"]]


class StudyHourRule(models.Model):
    """How a programme's lectures turn into 学时 (docs/learning.md): the one rule the study
    record, the reports, the exports and the certificates read. Changing it recomputes the
    credit from raw attendance (``courses.attendance.rules``), audited."""

    class Basis(models.TextChoices):
        FIXED = "fixed", _("Each lecture's own study hours")
        DURATION = "duration", _("By the lecture's length (minute bands)")

    programme = models.OneToOneField(
        Programme,
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="study_hour_rule",
    )
    basis = models.CharField(
        _("how lectures earn study hours"),
        max_length=10,
        choices=Basis.choices,
        default=Basis.FIXED,
    )
    bands = models.JSONField(
        _("minute bands"),
        default=default_study_hour_bands,
        help_text=_("Minutes of a lecture's length (at least) and the study hours it earns."),
    )
    cap_hours = models.DecimalField(
        _("cap per lecture"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "At most this many study hours per lecture, test bonus included; empty = no cap."
        ),
    )
    test_bonus_hours = models.DecimalField(
        _("test bonus"),
        max_digits=4,
        decimal_places=2,
        default=DEFAULT_TEST_BONUS,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Extra study hours for passing the lecture's test."),
    )
    certificate_min_lectures = models.PositiveSmallIntegerField(
        _("lectures for the programme certificate"),
        null=True,
        blank=True,
        help_text=_("Completed lectures a cadre needs for the programme certificate; empty = all."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("study-hour rule")
        verbose_name_plural = _("study-hour rules")

    def __str__(self) -> str:
        return str(self.programme)

    def band_hours(self, minutes: int) -> Decimal:
        """The study hours of the first band whose minimum ``minutes`` reaches."""
        for least, hours in sorted(self.bands, key=lambda band: -int(band[0])):
            if minutes >= int(least):
                return Decimal(str(hours))
        return Decimal("0")

    def lecture_hours(self, *, duration_minutes: int, own_hours: Decimal) -> Decimal:
        """What completing a lecture earns under this rule (before any test bonus)."""
        hours = own_hours if self.basis == self.Basis.FIXED else self.band_hours(duration_minutes)
        return self.capped(hours)

    def capped(self, hours: Decimal) -> Decimal:
        return min(hours, self.cap_hours) if self.cap_hours is not None else hours

    def clean(self) -> None:
        bands = self.bands
        ok = isinstance(bands, list) and all(
            isinstance(b, list | tuple) and len(b) == 2 for b in bands
        )
        minutes: list[int] = []
        if ok:
            try:
                for least, hours in bands:
                    if isinstance(least, bool) or int(least) != least or int(least) < 0:
                        raise ValueError
                    value = Decimal(str(hours))
                    if not (Decimal("0") <= value <= Decimal("99")):
                        raise ValueError
                    minutes.append(int(least))
            except (ValueError, TypeError, ArithmeticError):
                ok = False
        if not ok or len(set(minutes)) != len(minutes):
            raise ValidationError(
                {
                    "bands": _(
                        "Each band is whole minutes (0 or more, each once) and 0–99 study hours."
                    )
                }
            )


class Enrolment(models.Model):
    """A cadre's enrolment in a programme (self-enrolled or assigned in a cohort)."""

    class Source(models.TextChoices):
        SELF = "self", _("Self-enrolled")
        ASSIGNED = "assigned", _("Assigned by organiser")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Enrolled")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cadre"),
        on_delete=models.CASCADE,
        related_name="enrolments",
    )
    programme = models.ForeignKey(
        Programme,
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="enrolments",
    )
    venue = models.ForeignKey(
        Venue,
        verbose_name=_("venue"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="enrolments",
        help_text=_("For cadres who watch together at a venue."),
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.SELF
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    enrolled_at = models.DateTimeField(_("enrolled at"), default=timezone.now)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    # What ``courses/summaries.py`` last counted for this row (unit and state bits), so a
    # change is applied to the summaries exactly once, whoever makes it.
    tally_unit_id = models.IntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "programme"], name="enrolment_unique")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["programme", "status"], name="enrolment_prog_status")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.programme}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


# ---------------------------------------------------------------------------------------
# Attendance (docs/attendance.md): one raw record per (cadre, lecture); organiser corrections are
# separate override rows. Written only by the buffer flush (courses/attendance.py).
# ---------------------------------------------------------------------------------------


class Attendance(models.Model):
    """Every mode of one cadre's attendance of one lecture, merged."""

    # No single-column indexes on user/lecture: the unique (user, lecture) and the
    # (lecture, completed) indexes serve those lookups, and every extra index is written on
    # each flush (the table is updated every minute of every lecture).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cadre"),
        on_delete=models.CASCADE,
        related_name="attendances",
        db_index=False,
    )
    lecture = models.ForeignKey(
        Lecture,
        verbose_name=_("lecture"),
        on_delete=models.CASCADE,
        related_name="attendances",
        db_index=False,
    )
    live_seconds = models.PositiveIntegerField(_("live seconds"), default=0)
    replay_seconds = models.PositiveIntegerField(_("replay seconds"), default=0)
    first_seen_at = models.DateTimeField(_("first seen"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    venue = models.ForeignKey(
        Venue,
        verbose_name=_("venue"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attendances",
    )
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    # passed the lecture's test (learning's 随堂测验): the rule's test bonus adds to the credit
    test_passed_at = models.DateTimeField(_("test passed at"), null=True, blank=True)
    completed = models.BooleanField(_("completed"), default=False)
    credit_hours_earned = models.DecimalField(
        _("study hours earned"), max_digits=4, decimal_places=1, default=Decimal("0")
    )
    # The buffer flush that last added seconds: a re-run of the same flush adds nothing.
    last_flush_id = models.CharField(max_length=40, blank=True, default="", editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # What ``courses/summaries.py`` last counted for this row (unit and state bits), so a
    # change is applied to the summaries exactly once, whoever makes it.
    tally_unit_id = models.IntegerField(null=True, blank=True, editable=False)
    tally = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    tally_seconds = models.IntegerField(default=0, db_default=0, editable=False)

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "lecture"], name="attendance_unique")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["lecture", "completed"], name="attendance_lecture_done")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.lecture_id}"

    @property
    def credited_seconds(self) -> int:
        return int(self.live_seconds) + int(self.replay_seconds)


class AttendanceOverride(models.Model):
    """An organiser's audited correction of ``completed``; the newest one wins."""

    attendance = models.ForeignKey(
        Attendance,
        verbose_name=_("attendance"),
        on_delete=models.CASCADE,
        related_name="overrides",
    )
    completed = models.BooleanField(_("completed"))
    reason = models.CharField(_("reason"), max_length=200)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        related_name="attendance_overrides",
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("attendance correction")
        verbose_name_plural = _("attendance corrections")
        ordering = ("-at", "-pk")

    def __str__(self) -> str:
        return f"{self.attendance} → {self.completed}"


# ---------------------------------------------------------------------------------------
# Report summaries (docs/reports.md): per-(lecture, unit) and per-(programme, unit) counts of the
# unit's whole subtree, kept up to date incrementally by ``courses/summaries.py`` whenever
# attendance or enrolments change. Reports read these (O(units)), never raw rows.
# ---------------------------------------------------------------------------------------


class LectureUnitSummary(models.Model):
    """Attendance of one lecture by the cadres in one unit's subtree."""

    lecture = models.ForeignKey(Lecture, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="+")
    attended = models.IntegerField(default=0)
    in_person = models.IntegerField(default=0)
    online_live = models.IntegerField(default=0)
    replay = models.IntegerField(default=0)
    completed = models.IntegerField(default=0)
    seconds = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("lecture attendance summary")
        verbose_name_plural = _("lecture attendance summaries")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["lecture", "unit"], name="lecture_summary_unique")
        ]

    def __str__(self) -> str:
        return f"{self.lecture_id}/{self.unit_id}"


class ProgrammeUnitSummary(models.Model):
    """Active enrolments in one programme of the cadres in one unit's subtree."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="+")
    enrolled = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("programme enrolment summary")
        verbose_name_plural = _("programme enrolment summaries")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["programme", "unit"], name="programme_summary_unique")
        ]

    def __str__(self) -> str:
        return f"{self.programme_id}/{self.unit_id}"
