"""评课: one rating per cadre and lecture on the five indicators (issue 18 §3), editable
until LEARNING_EVALUATION_DAYS after the lecture ends; the comment is checked against the
sensitive-word list (flagged comments are for the organisers only). Results: per lecture
for the organisers (names, comments), summarised and anonymous for the speaker."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from courses.models import Lecture
from learning.models import COMMENT_MAX_CHARS, INDICATORS, Evaluation, Rating
from livestream.sensitive import text_is_sensitive
from portal.errors import CodedError
from portal.models import User


class EvaluationErrorCode(enum.Enum):
    NOT_YET = "not_yet"
    CLOSED = "closed"
    INVALID = "invalid"
    TOO_LONG = "too_long"


class EvaluationError(CodedError):
    messages = {
        EvaluationErrorCode.NOT_YET: _("You can rate the lecture once it has started."),
        EvaluationErrorCode.CLOSED: _("Ratings for this lecture have closed."),
        EvaluationErrorCode.INVALID: _("Rate every indicator."),
        EvaluationErrorCode.TOO_LONG: _("A comment can have at most 500 characters."),
    }


def evaluation_deadline(lecture: Lecture) -> datetime:
    return lecture.compute_ends_at() + timedelta(days=int(settings.LEARNING_EVALUATION_DAYS))


def evaluation_get(*, user: User, lecture: Lecture) -> Evaluation | None:
    return Evaluation.objects.filter(user=user, lecture=lecture).first()


def evaluation_save(
    *, user: User, lecture: Lecture, ratings: Mapping[str, int], comment: str
) -> Evaluation:
    """Create or change the cadre's rating (one per lecture, whatever the tabs)."""
    now = timezone.now()
    if now < lecture.starts_at:
        raise EvaluationError(EvaluationErrorCode.NOT_YET)
    if now > evaluation_deadline(lecture):
        raise EvaluationError(EvaluationErrorCode.CLOSED)
    values = {}
    for key, _label in INDICATORS:
        value = ratings.get(key)
        if value not in Rating.values:
            raise EvaluationError(EvaluationErrorCode.INVALID)
        values[key] = value
    comment = comment.strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise EvaluationError(EvaluationErrorCode.TOO_LONG)
    fields = {**values, "comment": comment, "flagged": bool(comment) and text_is_sensitive(comment)}
    with transaction.atomic():
        try:
            with transaction.atomic():
                evaluation, _created = Evaluation.objects.update_or_create(
                    user=user, lecture=lecture, defaults=fields
                )
        except IntegrityError:  # two tabs created it at once: the other one won, update it
            Evaluation.objects.filter(user=user, lecture=lecture).update(**fields)
            evaluation = Evaluation.objects.get(user=user, lecture=lecture)
    return evaluation


@dataclass(frozen=True)
class IndicatorSummary:
    key: str
    label: str
    counts: list[tuple[str, int]]  # (rating label, count), best first
    satisfied_share: float  # very satisfied + satisfied


@dataclass(frozen=True)
class EvaluationSummary:
    responses: int
    indicators: list[IndicatorSummary]
    satisfaction: float  # over all indicators
    comments: list[str]  # anonymous, flagged ones left out


def evaluation_summary(*, lecture: Lecture) -> EvaluationSummary:
    """The speaker's view: counts per indicator and rating, no names."""
    rows = Evaluation.objects.filter(lecture=lecture)
    total = rows.count()
    indicators, satisfied_all = [], 0
    for key, label in INDICATORS:
        counts = dict(rows.values_list(key).annotate(n=Count("pk")).order_by())
        satisfied = counts.get(Rating.VERY_SATISFIED, 0) + counts.get(Rating.SATISFIED, 0)
        satisfied_all += satisfied
        indicators.append(
            IndicatorSummary(
                key=key,
                label=label,
                counts=[(str(r.label), int(counts.get(r.value, 0))) for r in Rating],
                satisfied_share=satisfied / total if total else 0.0,
            )
        )
    comments = list(
        rows.filter(flagged=False).exclude(comment="").values_list("comment", flat=True)[:200]
    )
    share = satisfied_all / (total * len(INDICATORS)) if total else 0.0
    return EvaluationSummary(
        responses=total, indicators=indicators, satisfaction=share, comments=comments
    )
