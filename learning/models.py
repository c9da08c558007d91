"""The learning record's documents (issue 18): 学时证明 and 结业证书 with a serial anyone
can check at ``/verify/<serial>/``. A certificate is a snapshot: what it said when it was
issued (name, unit, 学时, lectures) stays as issued; new study earns a new certificate."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from courses.models import Programme

SERIAL_CHARS = 16


class Certificate(models.Model):
    class Kind(models.TextChoices):
        YEAR = "year", _("Study-hour certificate (year)")
        PROGRAMME = "programme", _("Programme certificate")

    serial = models.CharField(_("serial number"), max_length=SERIAL_CHARS, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cadre"),
        on_delete=models.CASCADE,
        related_name="certificates",
    )
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    programme = models.ForeignKey(
        Programme,
        verbose_name=_("programme"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certificates",
    )
    # as issued (the verify page shows these, whatever changed since)
    name = models.CharField(_("name"), max_length=150)
    unit_name = models.CharField(_("unit"), max_length=200, blank=True)
    unit_level = models.CharField(_("unit level"), max_length=40, blank=True)  # OrgUnit.Kind
    issuer = models.CharField(_("issued by"), max_length=200)
    hours = models.DecimalField(_("study hours"), max_digits=7, decimal_places=2)
    lectures = models.PositiveIntegerField(_("lectures completed"))
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoke_reason = models.CharField(_("reason for revoking"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ("-issued_at", "-pk")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="year", year__isnull=False, programme__isnull=True)
                    | models.Q(kind="programme", programme__isnull=False)
                ),
                name="certificate_kind_subject",
            )
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "kind", "year"], name="certificate_user_year"),
        ]

    def __str__(self) -> str:
        return self.serial

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


# ---------------------------------------------------------------------------
# 随堂测验: a lecture's test (learning/quizzes.py)
# ---------------------------------------------------------------------------
class Quiz(models.Model):
    lecture = models.OneToOneField(
        "courses.Lecture", verbose_name=_("lecture"), on_delete=models.CASCADE, related_name="quiz"
    )
    pass_percent = models.PositiveSmallIntegerField(
        _("pass mark (%)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    attempts_allowed = models.PositiveSmallIntegerField(
        _("attempts allowed"), default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    opens_at = models.DateTimeField(
        _("opens at"), null=True, blank=True, help_text=_("Empty: when the lecture ends.")
    )
    closes_at = models.DateTimeField(_("closes at"), null=True, blank=True)
    shuffle = models.BooleanField(_("shuffle questions and choices"), default=True)
    is_published = models.BooleanField(_("published"), default=True)

    class Meta:
        verbose_name = _("lecture test")
        verbose_name_plural = _("lecture tests")

    def __str__(self) -> str:
        return str(self.lecture)


class QuizQuestion(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("Single choice")
        MULTIPLE = "multiple", _("Multiple choice")
        TRUE_FALSE = "truefalse", _("True or false")

    quiz = models.ForeignKey(
        Quiz, verbose_name=_("test"), on_delete=models.CASCADE, related_name="questions"
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SINGLE)
    text = models.TextField(_("question"), max_length=1000)

    class Meta:
        verbose_name = _("test question")
        verbose_name_plural = _("test questions")
        ordering = ("position", "pk")

    def __str__(self) -> str:
        return self.text[:60]


class QuizChoice(models.Model):
    question = models.ForeignKey(
        QuizQuestion, verbose_name=_("question"), on_delete=models.CASCADE, related_name="choices"
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    text = models.CharField(_("choice"), max_length=300)
    correct = models.BooleanField(_("correct"), default=False)

    class Meta:
        verbose_name = _("choice")
        verbose_name_plural = _("choices")
        ordering = ("position", "pk")

    def __str__(self) -> str:
        return self.text[:60]


class QuizAttempt(models.Model):
    quiz = models.ForeignKey(
        Quiz, verbose_name=_("test"), on_delete=models.CASCADE, related_name="attempts"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cadre"),
        on_delete=models.CASCADE,
        related_name="quiz_attempts",
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    # the order this attempt shows: [[question id, [choice id, …]], …]
    layout = models.JSONField(_("layout"), default=list)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    score_percent = models.PositiveSmallIntegerField(_("score (%)"), null=True, blank=True)
    passed = models.BooleanField(_("passed"), default=False)

    class Meta:
        verbose_name = _("test attempt")
        verbose_name_plural = _("test attempts")
        ordering = ("-started_at", "-pk")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["quiz", "user", "number"], name="quiz_attempt_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} #{self.number}"


class QuizResponse(models.Model):
    """One question of a submitted attempt (the item analysis counts these)."""

    attempt = models.ForeignKey(
        QuizAttempt, verbose_name=_("attempt"), on_delete=models.CASCADE, related_name="responses"
    )
    question = models.ForeignKey(
        QuizQuestion, verbose_name=_("question"), on_delete=models.CASCADE, related_name="+"
    )
    chosen = models.JSONField(_("chosen"), default=list)
    correct = models.BooleanField(_("correct"))

    class Meta:
        verbose_name = _("test answer")
        verbose_name_plural = _("test answers")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["attempt", "question"], name="quiz_response_unique")
        ]

    def __str__(self) -> str:
        return f"{self.attempt_id}/{self.question_id}"


# ---------------------------------------------------------------------------
# 评课: a cadre's rating of a lecture (learning/evaluations.py)
# ---------------------------------------------------------------------------
class Rating(models.IntegerChoices):
    VERY_SATISFIED = 4, _("Very satisfied")
    SATISFIED = 3, _("Satisfied")
    ADEQUATE = 2, _("Adequate")
    DISSATISFIED = 1, _("Dissatisfied")


# the provincial party school's five indicators, in its order
INDICATORS: tuple[tuple[str, str], ...] = (
    ("relevance", "现实针对性"),
    ("theory", "理论性"),
    ("information", "信息量"),
    ("delivery", "语言表达"),
    ("manner", "教风教态"),
)
COMMENT_MAX_CHARS = 500


class Evaluation(models.Model):
    lecture = models.ForeignKey(
        "courses.Lecture",
        verbose_name=_("lecture"),
        on_delete=models.CASCADE,
        related_name="evaluations",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cadre"),
        on_delete=models.CASCADE,
        related_name="evaluations",
    )
    relevance = models.PositiveSmallIntegerField(_("practical relevance"), choices=Rating.choices)
    theory = models.PositiveSmallIntegerField(_("theoretical depth"), choices=Rating.choices)
    information = models.PositiveSmallIntegerField(_("information"), choices=Rating.choices)
    delivery = models.PositiveSmallIntegerField(_("delivery"), choices=Rating.choices)
    manner = models.PositiveSmallIntegerField(_("teaching manner"), choices=Rating.choices)
    comment = models.TextField(_("comment"), max_length=COMMENT_MAX_CHARS, blank=True)
    flagged = models.BooleanField(
        _("flagged"), default=False, help_text=_("The comment matched the sensitive-word list.")
    )
    created_at = models.DateTimeField(_("rated at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("lecture rating")
        verbose_name_plural = _("lecture ratings")
        ordering = ("-created_at", "-pk")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["lecture", "user"], name="evaluation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.lecture_id}/{self.user_id}"
