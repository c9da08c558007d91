"""factory_boy factories for the domain models."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from courses.models import Enrolment, Lecture, Programme, Speaker, Venue
from portal.models import OrgUnit, Role, User

T = TypeVar("T")


class ModelFactory(DjangoModelFactory[T]):
    """``XFactory(...)`` returns the model instance; tell the type checker so."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:

        def __new__(cls, *args: Any, **kwargs: Any) -> T:  # type: ignore[misc]
            ...


def unit_create(
    *, name: str, kind: str, parent: OrgUnit | None = None, code: str | None = None
) -> OrgUnit:
    """Create an org unit through treebeard (keeps paths and child counts right)."""
    if parent is None:
        return OrgUnit.add_root(name=name, kind=kind, code=code)
    parent.refresh_from_db()
    return parent.add_child(name=name, kind=kind, code=code)


class UserFactory(ModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"干部{n}")
    password = factory.PostGenerationMethodCall("set_password", "zhixing-demo")

    @classmethod
    def _after_postgeneration(cls, instance: User, create: bool, results: Any = None) -> None:
        if create:
            instance.save()


class RoleFactory(ModelFactory[Role]):
    class Meta:
        model = Role

    user = factory.SubFactory(UserFactory)
    kind = Role.Kind.ORGANISER


class SpeakerFactory(ModelFactory[Speaker]):
    class Meta:
        model = Speaker

    name = factory.Sequence(lambda n: f"讲师{n}")
    title = "研究员"
    organisation = "浙江大学"


class ProgrammeFactory(ModelFactory[Programme]):
    class Meta:
        model = Programme
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"人工智能专题培训 {n}")
    description = "面向全省干部的人工智能通识培训。"

    @factory.post_generation
    def audience(
        self: Programme, create: bool, extracted: list[OrgUnit] | None, **kwargs: Any
    ) -> None:
        if create:
            self.audience.set(extracted if extracted is not None else [self.organiser_unit])


class LectureFactory(ModelFactory[Lecture]):
    class Meta:
        model = Lecture

    programme = factory.SubFactory(ProgrammeFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"第{n + 1}讲 人工智能新浪潮")
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    duration_minutes = 90
    stream_url = "https://live.example.org/ai/index.m3u8"


class VenueFactory(ModelFactory[Venue]):
    class Meta:
        model = Venue

    name = factory.Sequence(lambda n: f"集中收看点{n}")
    kind = Venue.Kind.PARTY_SCHOOL
    capacity = 120


class EnrolmentFactory(ModelFactory[Enrolment]):
    class Meta:
        model = Enrolment

    user = factory.SubFactory(UserFactory)
    programme = factory.SubFactory(ProgrammeFactory)
