"""Read use cases of the courses app."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.models import Enrolment, Lecture, Programme
from portal.models import OrgUnit, User
from portal.scopes import Capability, scope_for


def unit_ancestor_paths(unit: OrgUnit) -> list[str]:
    """The paths of ``unit`` and all its ancestors (cheap: derived from the path)."""
    step = OrgUnit.steplen
    return [unit.path[: step * i] for i in range(1, unit.depth + 1)]


def programme_list_published() -> QuerySet[Programme]:
    return Programme.objects.filter(is_published=True).select_related("organiser_unit")


def programme_list_for_user(*, user: User) -> QuerySet[Programme]:
    """Published programmes whose audience covers the user's unit (the catalogue)."""
    qs = programme_list_published()
    if user.is_superuser:
        return qs
    if user.unit is None:
        return qs.none()
    return qs.filter(audience__path__in=unit_ancestor_paths(user.unit)).distinct()


def programme_list_visible(*, user: User) -> QuerySet[Programme]:
    """Programmes whose pages the user may open: published ones in their audience, ones they
    manage, and ones they are (or were) enrolled in."""
    if user.is_superuser:
        return Programme.objects.select_related("organiser_unit")
    managed = programme_list_managed(user=user).values("pk")
    enrolled = Enrolment.objects.filter(user=user).values("programme_id")
    audience = programme_list_for_user(user=user).values("pk")
    return Programme.objects.filter(
        Q(pk__in=audience) | Q(pk__in=managed) | Q(pk__in=enrolled)
    ).select_related("organiser_unit")


def programme_get_for_viewer(*, user: User, programme_id: int) -> Programme:
    """Fetch and authorise: unknown (or unpublished and not ours) → 404; a published
    programme for another audience → 403 with a clear message."""
    programme = programme_list_visible(user=user).filter(pk=programme_id).first()
    if programme is not None:
        return programme
    if Programme.objects.filter(pk=programme_id, is_published=True).exists():
        raise PermissionDenied(
            _("This programme is for cadres of other units; your unit is not in its audience.")
        )
    raise Http404(_("No such programme."))


def lecture_get_for_viewer(*, user: User, lecture_id: int) -> Lecture:
    """The lecture with the same rules as its programme."""
    programme_id = (
        Lecture.objects.filter(pk=lecture_id).values_list("programme_id", flat=True).first()
    )
    if programme_id is None:
        raise Http404(_("No such lecture."))
    programme_get_for_viewer(user=user, programme_id=programme_id)
    return lecture_queryset().get(pk=lecture_id)


def programme_ids_enrolled(*, user: User) -> set[int]:
    return set(
        Enrolment.objects.filter(user=user, status=Enrolment.Status.ACTIVE).values_list(
            "programme_id", flat=True
        )
    )


def enrolled_user_ids(*, programme: Programme) -> QuerySet[Enrolment, int]:
    """The users actively enrolled in ``programme`` (a subquery: ``id__in=…``)."""
    return Enrolment.objects.filter(
        programme=programme, status=Enrolment.Status.ACTIVE
    ).values_list("user_id", flat=True)


def programme_list_managed(*, user: User) -> QuerySet[Programme]:
    """Programmes the user may manage (organiser scope over the organising unit)."""
    scope = scope_for(user=user, capability=Capability.MANAGE_PROGRAMMES)
    return Programme.objects.filter(scope.q("organiser_unit__")).select_related("organiser_unit")


def user_in_audience(*, user: User, programme: Programme) -> bool:
    if user.unit is None:
        return False
    return programme.audience.filter(path__in=unit_ancestor_paths(user.unit)).exists()


def enrolment_get_active(*, user: User, programme_id: int) -> Enrolment | None:
    if not user.is_authenticated:
        return None
    return (
        Enrolment.objects.filter(
            user=user, programme_id=programme_id, status=Enrolment.Status.ACTIVE
        )
        .select_related("venue")
        .first()
    )


def lecture_status_q(status: str, *, now: datetime | None = None) -> Q:
    """A filter on lectures matching a protocol status, override included."""
    now = now or timezone.now()
    auto = Q(status_override="")
    stream_ended = Q(stream_ended_at__lte=now)
    stream_live = Q(stream_live_since__lte=now) & ~stream_ended  # ~: NULLs are not ended
    by_clock = ~stream_ended & ~Q(stream_live_since__lte=now)
    if status == Lecture.Status.SCHEDULED:
        return auto & by_clock & Q(starts_at__gt=now)
    if status == Lecture.Status.LIVE:
        return Q(status_override=Lecture.Status.LIVE) | (
            auto & (stream_live | (by_clock & Q(starts_at__lte=now, ends_at__gt=now)))
        )
    if status == Lecture.Status.ENDED:
        return Q(status_override=Lecture.Status.ENDED) | (
            auto & (stream_ended | (by_clock & Q(ends_at__lte=now)))
        )
    raise ValueError(status)


def lecture_queryset() -> QuerySet[Lecture]:
    return Lecture.objects.select_related("programme").prefetch_related(Prefetch("speakers"))


def lecture_search(
    *,
    user: User,
    text: str = "",
    category: str = "",
    status: str = "",
    programme_id: int | None = None,
) -> QuerySet[Lecture]:
    """The catalogue: lectures of programmes open to ``user``, filtered."""
    programmes = programme_list_for_user(user=user)
    qs = lecture_queryset().filter(programme__in=programmes)
    if text:
        qs = qs.filter(
            Q(title__icontains=text)
            | Q(summary__icontains=text)
            | Q(speakers__name__icontains=text)
            | Q(programme__title__icontains=text)
        ).distinct()
    if category:
        qs = qs.filter(category=category)
    if status:
        qs = qs.filter(lecture_status_q(status))
    if programme_id is not None:
        qs = qs.filter(programme_id=programme_id)
    return qs.order_by("starts_at")


def lecture_list_for_home(*, user: User, limit: int = 20) -> list[Lecture]:
    """Live and upcoming lectures of the programmes the user is enrolled in."""
    programme_ids = Enrolment.objects.filter(user=user, status=Enrolment.Status.ACTIVE).values(
        "programme_id"
    )
    now = timezone.now()
    qs = (
        lecture_queryset()
        .filter(programme_id__in=programme_ids)
        .filter(
            lecture_status_q(Lecture.Status.LIVE, now=now)
            | lecture_status_q(Lecture.Status.SCHEDULED, now=now)
        )
        .order_by("starts_at")
    )
    return list(qs[:limit])


def lecture_list_recent_for_home(*, user: User, limit: int = 5) -> list[Lecture]:
    """Ended lectures of the user's programmes, newest first (for replays)."""
    programme_ids = Enrolment.objects.filter(user=user, status=Enrolment.Status.ACTIVE).values(
        "programme_id"
    )
    qs = (
        lecture_queryset()
        .filter(programme_id__in=programme_ids)
        .filter(lecture_status_q(Lecture.Status.ENDED))
        .order_by("-starts_at")
    )
    return list(qs[:limit])


def lecture_is_moderator(*, user: User, lecture: Lecture) -> bool:
    """Organisers over the programme's organising unit and named moderators moderate."""
    if not user.is_authenticated:
        return False
    scope = scope_for(user=user, capability=Capability.MANAGE_PROGRAMMES)
    if scope.contains(lecture.programme.organiser_unit):
        return True
    return lecture.moderators.filter(pk=user.pk).exists()


def user_list_in_unit_subtree(*, unit: OrgUnit) -> QuerySet[User]:
    """Active users of ``unit`` and every unit below it (a cohort for bulk assignment)."""
    return User.objects.filter(unit__path__startswith=unit.path, is_active=True)


def programme_audience_covers(*, programme: Programme, unit: OrgUnit) -> bool:
    """True when ``unit`` lies inside (or is) one of the programme's audience units."""
    return programme.audience.filter(path__in=unit_ancestor_paths(unit)).exists()
