"""Enrolment services: self-enrolment, withdrawal, bulk assignment."""

from __future__ import annotations

import pytest

from courses.exceptions import EnrolmentError, EnrolmentErrorCode
from courses.models import Enrolment, Programme
from courses.services import enrolment_assign_bulk, enrolment_create, enrolment_withdraw
from portal.models import AuditLog, User
from tests.conftest import Tree
from tests.factories import LectureFactory, UserFactory, VenueFactory

pytestmark = pytest.mark.django_db


def test_enrol_inside_audience_creates_one_active_enrolment(
    cadre: User, programme: Programme
) -> None:
    result = enrolment_create(user=cadre, programme=programme)
    assert result.created
    assert result.enrolment.status == Enrolment.Status.ACTIVE
    assert result.enrolment.source == Enrolment.Source.SELF


def test_enrol_twice_is_idempotent(cadre: User, programme: Programme) -> None:
    first = enrolment_create(user=cadre, programme=programme)
    second = enrolment_create(user=cadre, programme=programme)
    assert not second.created
    assert second.enrolment.pk == first.enrolment.pk
    assert Enrolment.objects.filter(user=cadre).count() == 1


def test_enrol_outside_audience_is_refused(outsider: User, programme: Programme) -> None:
    with pytest.raises(EnrolmentError) as excinfo:
        enrolment_create(user=outsider, programme=programme)
    assert excinfo.value.code == EnrolmentErrorCode.NOT_IN_AUDIENCE
    assert "不在" in excinfo.value.message or "其他单位" in excinfo.value.message
    assert not Enrolment.objects.exists()


def test_enrol_without_unit_is_refused(programme: Programme) -> None:
    user = UserFactory(username="nounit")
    with pytest.raises(EnrolmentError) as excinfo:
        enrolment_create(user=user, programme=programme)
    assert excinfo.value.code == EnrolmentErrorCode.NO_UNIT


def test_enrol_in_unpublished_or_assigned_programme_is_refused(
    cadre: User, programme: Programme
) -> None:
    programme.is_published = False
    programme.save(update_fields=["is_published"])
    with pytest.raises(EnrolmentError) as excinfo:
        enrolment_create(user=cadre, programme=programme)
    assert excinfo.value.code == EnrolmentErrorCode.NOT_PUBLISHED
    programme.is_published = True
    programme.enrolment_mode = Programme.EnrolmentMode.ASSIGNED
    programme.save(update_fields=["is_published", "enrolment_mode"])
    with pytest.raises(EnrolmentError) as excinfo:
        enrolment_create(user=cadre, programme=programme)
    assert excinfo.value.code == EnrolmentErrorCode.ASSIGNED_ONLY


def test_withdraw_then_reenrol_reuses_the_row(cadre: User, programme: Programme) -> None:
    enrolment_create(user=cadre, programme=programme)
    withdrawn = enrolment_withdraw(user=cadre, programme=programme)
    assert withdrawn.status == Enrolment.Status.WITHDRAWN
    assert withdrawn.withdrawn_at is not None
    again = enrolment_create(user=cadre, programme=programme)
    assert again.created
    assert again.enrolment.pk == withdrawn.pk
    assert again.enrolment.status == Enrolment.Status.ACTIVE
    assert again.enrolment.withdrawn_at is None


def test_withdraw_when_not_enrolled_is_refused(cadre: User, programme: Programme) -> None:
    with pytest.raises(EnrolmentError) as excinfo:
        enrolment_withdraw(user=cadre, programme=programme)
    assert excinfo.value.code == EnrolmentErrorCode.NOT_ENROLLED
    enrolment_create(user=cadre, programme=programme)
    enrolment_withdraw(user=cadre, programme=programme)
    with pytest.raises(EnrolmentError):
        enrolment_withdraw(user=cadre, programme=programme)


def test_assign_bulk_is_idempotent_and_audited(
    tree: Tree, organiser: User, programme: Programme
) -> None:
    venue = VenueFactory(unit=tree.xihu)
    lecture = LectureFactory(programme=programme, sequence=1)
    lecture.venues.add(venue)
    cohort = [UserFactory(unit=tree.lingyin) for _ in range(5)]
    enrolment_withdraw_target = cohort[0]
    enrolment_create(user=enrolment_withdraw_target, programme=programme)
    enrolment_withdraw(user=enrolment_withdraw_target, programme=programme)

    assert (
        enrolment_assign_bulk(programme=programme, users=cohort, venue=venue, assigned_by=organiser)
        == 5
    )
    assert (
        enrolment_assign_bulk(programme=programme, users=cohort, venue=venue, assigned_by=organiser)
        == 5
    )
    rows = Enrolment.objects.filter(programme=programme)
    assert rows.count() == 5
    assert set(rows.values_list("status", flat=True)) == {Enrolment.Status.ACTIVE}
    assert set(rows.values_list("venue_id", flat=True)) == {venue.pk}
    assert AuditLog.objects.filter(action="enrolment.assign_bulk").count() == 2


def test_assign_bulk_refuses_foreign_venue(
    tree: Tree, organiser: User, programme: Programme
) -> None:
    venue = VenueFactory(unit=tree.haishu)
    user = UserFactory(unit=tree.lingyin)
    with pytest.raises(EnrolmentError) as excinfo:
        enrolment_assign_bulk(programme=programme, users=[user], venue=venue, assigned_by=organiser)
    assert excinfo.value.code == EnrolmentErrorCode.VENUE_OUTSIDE
    assert not Enrolment.objects.exists()
