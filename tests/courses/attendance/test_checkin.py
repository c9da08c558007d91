"""Venue check-in (issue 4 item 4): rotating signed codes, scans, roster marking, and how
check-ins and the heartbeat flush combine in one attendance row."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse

from courses.attendance.buffer import LIVE, Credit, MemoryBuffer
from courses.attendance.checkin import (
    CODE_SALT,
    CheckInError,
    CheckInErrorCode,
    checkin_roster,
    checkin_roster_mark,
    checkin_scan,
    checkin_token_make,
    checkin_token_read,
    checkin_unmark,
    checkin_venue_get_for_staff,
)
from courses.attendance.credit import attendance_flush, attendance_override_create
from courses.models import Attendance, Lecture, Programme, Venue
from courses.services import enrolment_assign_bulk, enrolment_create, enrolment_withdraw
from courses.summaries.rebuild import summaries_compute, summaries_stored
from portal.models import AuditLog, User
from tests.conftest import Tree
from tests.courses.attendance.attendance_support import START
from tests.factories import LectureFactory, UserFactory, VenueFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.ATTENDANCE_CHECKIN_OPEN_MINUTES = 30
    settings.ATTENDANCE_CHECKIN_QR_SECONDS = 30
    settings.ATTENDANCE_GRACE_SECONDS = 600
    settings.ATTENDANCE_COMPLETION_RATIO = 0.8


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(START + timedelta(minutes=5), tick=False) as traveller:
        yield traveller


@dataclass
class Site:
    lecture: Lecture
    school: Venue  # the Xihu party school, where the cadre's class watches
    hall: Venue  # a Xihu hall that also shows the lecture
    ningbo: Venue  # a Ningbo venue of the same lecture


@pytest.fixture
def site(tree: Tree, programme: Programme, cadre: User) -> Site:
    lecture = LectureFactory(programme=programme, sequence=1, starts_at=START, duration_minutes=90)
    school = VenueFactory(name="西湖区委党校", unit=tree.xihu)
    hall = VenueFactory(name="西湖区礼堂", unit=tree.xihu, kind=Venue.Kind.HALL)
    ningbo = VenueFactory(name="海曙区委党校", unit=tree.haishu)
    lecture.venues.add(school, hall, ningbo)
    enrolment_assign_bulk(programme=programme, users=[cadre], venue=school, assigned_by=None)
    return Site(lecture, school, hall, ningbo)


def _code(site: Site, venue: Venue | None = None, **kw: Any) -> str:
    return checkin_token_make(
        lecture_id=site.lecture.pk, venue_id=(venue or site.school).pk, **kw
    ).value


def _consistent(lecture: Lecture) -> None:
    ids = [lecture.pk]
    programmes = [lecture.programme_id]
    assert summaries_stored(lecture_ids=ids, programme_ids=programmes) == summaries_compute(
        lecture_ids=ids, programme_ids=programmes
    )


def _refused(code: CheckInErrorCode, **kwargs: Any) -> None:
    with pytest.raises(CheckInError) as excinfo:
        checkin_scan(**kwargs)
    assert excinfo.value.code == code
    assert excinfo.value.message


# ---------------------------------------------------------------------------------------
# Codes
# ---------------------------------------------------------------------------------------


def test_code_is_accepted_for_its_slot_and_the_next_only(clock: Any) -> None:
    clock.move_to(START.replace(second=0) + timedelta(seconds=1))  # early in a slot
    token = checkin_token_make(lecture_id=7, venue_id=3)
    assert 29 <= token.expires_in <= 29.01
    assert checkin_token_read(token=token.value) == (7, 3)
    assert checkin_token_make(lecture_id=7, venue_id=3).value == token.value  # same slot
    clock.shift(30)
    assert checkin_token_make(lecture_id=7, venue_id=3).value != token.value  # rotated
    assert checkin_token_read(token=token.value) == (7, 3)  # the previous slot still counts
    clock.shift(30)
    with pytest.raises(CheckInError) as excinfo:
        checkin_token_read(token=token.value)
    assert excinfo.value.code == CheckInErrorCode.EXPIRED
    # A code from a server whose clock is one slot ahead is accepted; two slots are not.
    ahead = checkin_token_make(lecture_id=7, venue_id=3, now=START + timedelta(minutes=10))
    clock.move_to(START + timedelta(minutes=10) - timedelta(seconds=30))
    assert checkin_token_read(token=ahead.value) == (7, 3)
    clock.shift(-30)
    with pytest.raises(CheckInError):
        checkin_token_read(token=ahead.value)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # bad signature
        lambda t: signing.dumps([99, 3, int(t.split(":")[0] != "")], salt="other"),  # other salt
        lambda t: "not-a-code",
        lambda t: signing.dumps({"l": 7}, salt=CODE_SALT),  # genuine but the wrong shape
        lambda t: signing.dumps([7, 3, True], salt=CODE_SALT),
        lambda t: "",
    ],
)
def test_forged_codes_are_refused(clock: Any, forge: Any) -> None:
    token = checkin_token_make(lecture_id=7, venue_id=3).value
    with pytest.raises(CheckInError) as excinfo:
        checkin_token_read(token=forge(token))
    assert excinfo.value.code == CheckInErrorCode.INVALID_CODE


def test_swapping_the_lecture_in_a_code_breaks_its_signature(clock: Any) -> None:
    import base64

    token = checkin_token_make(lecture_id=7, venue_id=3).value
    payload, rest = token.split(":", 1)
    swapped = base64.urlsafe_b64encode(b"[8,3," + base64.urlsafe_b64decode(payload + "==")[5:])
    with pytest.raises(CheckInError) as excinfo:
        checkin_token_read(token=swapped.decode().rstrip("=") + ":" + rest)
    assert excinfo.value.code == CheckInErrorCode.INVALID_CODE


# ---------------------------------------------------------------------------------------
# Scans
# ---------------------------------------------------------------------------------------


def test_scan_checks_in_completes_and_counts(clock: Any, site: Site, cadre: User) -> None:
    result = checkin_scan(user=cadre, token=_code(site))
    assert result.check_in.created
    row = Attendance.objects.get(user=cadre, lecture=site.lecture)
    assert row.venue == site.school
    assert row.checked_in_at == START + timedelta(minutes=5)
    assert row.completed and row.credit_hours_earned == site.lecture.credit_hours
    assert (row.live_seconds, row.replay_seconds) == (0, 0)
    assert row.tally & 2  # counted in person by the summaries
    _consistent(site.lecture)


def test_repeat_scan_is_idempotent_and_keeps_the_first_time(
    clock: Any, site: Site, cadre: User
) -> None:
    first = checkin_scan(user=cadre, token=_code(site)).check_in
    clock.shift(45)
    again = checkin_scan(user=cadre, token=_code(site)).check_in
    assert not again.created
    assert again.checked_in_at == first.checked_in_at
    assert Attendance.objects.filter(user=cadre).count() == 1
    _consistent(site.lecture)


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(minutes=-31), False),
        (timedelta(minutes=-30), True),
        (timedelta(minutes=90, seconds=600), True),
        (timedelta(minutes=90, seconds=601), False),
        (timedelta(days=1), False),
    ],
)
def test_scan_only_inside_the_window(
    clock: Any, site: Site, cadre: User, offset: timedelta, ok: bool
) -> None:
    clock.move_to(START + offset)
    if ok:
        assert checkin_scan(user=cadre, token=_code(site)).check_in.created
    else:
        _refused(CheckInErrorCode.OUTSIDE_WINDOW, user=cadre, token=_code(site))
        assert not Attendance.objects.exists()


def test_status_override_opens_or_closes_the_window(clock: Any, site: Site, cadre: User) -> None:
    site.lecture.status_override = Lecture.Override.ENDED
    site.lecture.save(update_fields=["status_override"])
    _refused(CheckInErrorCode.OUTSIDE_WINDOW, user=cadre, token=_code(site))
    clock.move_to(START - timedelta(hours=3))
    site.lecture.status_override = Lecture.Override.LIVE
    site.lecture.save(update_fields=["status_override"])
    assert checkin_scan(user=cadre, token=_code(site)).check_in.created


def test_scan_refuses_cadres_not_enrolled(
    clock: Any, site: Site, cadre: User, outsider: User, programme: Programme
) -> None:
    _refused(CheckInErrorCode.NOT_ENROLLED, user=outsider, token=_code(site))
    enrolment_withdraw(user=cadre, programme=programme)
    _refused(CheckInErrorCode.NOT_ENROLLED, user=cadre, token=_code(site))
    assert not Attendance.objects.exists()


def test_scan_at_another_venue_names_the_right_one(clock: Any, site: Site, cadre: User) -> None:
    with pytest.raises(CheckInError) as excinfo:
        checkin_scan(user=cadre, token=_code(site, site.hall))
    assert excinfo.value.code == CheckInErrorCode.WRONG_VENUE
    assert "西湖区委党校" in excinfo.value.message
    assert not Attendance.objects.exists()


def test_without_an_assigned_venue_a_venue_up_the_unit_chain_is_accepted(
    clock: Any, tree: Tree, site: Site, programme: Programme
) -> None:
    walker = UserFactory(username="walker", unit=tree.village)
    enrolment_create(user=walker, programme=programme)  # self-enrolled, no venue
    _refused(CheckInErrorCode.WRONG_VENUE, user=walker, token=_code(site, site.ningbo))
    other = VenueFactory(name="不放映本讲的会场", unit=tree.xihu)  # in the chain, not a venue
    _refused(CheckInErrorCode.WRONG_VENUE, user=walker, token=_code(site, other))
    assert checkin_scan(user=walker, token=_code(site, site.hall)).check_in.venue_id == site.hall.pk
    roster = checkin_roster(lecture=site.lecture, venue=site.hall)
    assert [(line.name, line.on_roster, line.here) for line in roster.lines] == [
        (walker.display_name, False, True)
    ]
    _consistent(site.lecture)


def test_code_of_a_deleted_lecture_is_invalid(clock: Any, site: Site, cadre: User) -> None:
    token = _code(site)
    site.lecture.delete()
    _refused(CheckInErrorCode.INVALID_CODE, user=cadre, token=token)


# ---------------------------------------------------------------------------------------
# Check-in and the heartbeat flush, in either order
# ---------------------------------------------------------------------------------------


def _credit(buffer: MemoryBuffer, lecture: Lecture, user: User, windows: int, first: int) -> None:
    base = int(lecture.starts_at.timestamp()) // 30 + first
    for w in range(windows):
        buffer.credit(
            Credit(
                lecture_id=lecture.pk,
                user_id=int(user.pk),
                mode=LIVE,
                window=base + w,
                seconds=30,
                now_epoch=(base + w) * 30,
            ),
            seed=lambda: (0, 0),
        )


def _flush_live(
    buffer: MemoryBuffer, lecture: Lecture, user: User, windows: int, first: int = 0
) -> None:
    _credit(buffer, lecture, user, windows, first)
    attendance_flush(buffer=buffer)


@pytest.mark.parametrize("order", ["checkin-then-flush", "flush-then-checkin"])
def test_checkin_and_flush_commute(clock: Any, site: Site, cadre: User, order: str) -> None:
    buffer = MemoryBuffer()
    if order == "checkin-then-flush":
        checkin_scan(user=cadre, token=_code(site))
        _flush_live(buffer, site.lecture, cadre, windows=4)
    else:
        _flush_live(buffer, site.lecture, cadre, windows=4)
        checkin_scan(user=cadre, token=_code(site))
    _flush_live(buffer, site.lecture, cadre, windows=2, first=4)
    row = Attendance.objects.get(user=cadre, lecture=site.lecture)
    assert row.live_seconds == 180  # 6 windows, whichever came first
    assert row.checked_in_at == START + timedelta(minutes=5) and row.venue == site.school
    assert row.completed  # in person counts as complete though 180 s < 72 min
    assert row.credit_hours_earned == site.lecture.credit_hours
    assert row.last_flush_id  # the check-in never reset the flush's idempotency stamp
    _consistent(site.lecture)


def test_rerun_of_a_flush_after_a_checkin_adds_nothing(clock: Any, site: Site, cadre: User) -> None:
    buffer = MemoryBuffer()
    _flush_live(buffer, site.lecture, cadre, windows=3)
    flushed = Attendance.objects.get(user=cadre)
    checkin_scan(user=cadre, token=_code(site))
    # Replay the same flush batch (as after a crash before the buffer was trimmed).
    from courses.attendance.buffer import Entry
    from courses.attendance.credit import _write_batch, completion_rules

    entry = Entry(live=90, replay=0, first=0, last=0)
    _write_batch(
        lecture_id=site.lecture.pk,
        rule=completion_rules(lecture_ids=[site.lecture.pk])[site.lecture.pk],
        batch=[(cadre.pk, entry)],
        flush_id=flushed.last_flush_id,
    )
    row = Attendance.objects.get(user=cadre)
    assert (row.live_seconds, row.completed) == (90, True)
    _consistent(site.lecture)


def test_unmark_falls_back_to_online_credit(
    clock: Any, site: Site, cadre: User, school_staff: User
) -> None:
    buffer = MemoryBuffer()
    _flush_live(buffer, site.lecture, cadre, windows=2)
    checkin_scan(user=cadre, token=_code(site))
    assert checkin_unmark(
        lecture=site.lecture, venue=site.school, user_id=cadre.pk, by=school_staff
    )
    row = Attendance.objects.get(user=cadre)
    assert (row.checked_in_at, row.venue, row.live_seconds) == (None, None, 60)
    assert not row.completed and row.credit_hours_earned == Decimal("0")
    log = AuditLog.objects.get(action="checkin.unmark")
    assert log.user == school_staff and log.detail == {"venue": site.school.pk, "user": cadre.pk}
    _consistent(site.lecture)
    # A later flush does not resurrect the check-in.
    _flush_live(buffer, site.lecture, cadre, windows=1, first=2)
    row.refresh_from_db()
    assert (row.checked_in_at, row.live_seconds, row.completed) == (None, 90, False)
    assert not checkin_unmark(
        lecture=site.lecture, venue=site.school, user_id=cadre.pk, by=school_staff
    )
    _consistent(site.lecture)


def test_unmark_keeps_completion_earned_online(
    clock: Any, site: Site, cadre: User, school_staff: User
) -> None:
    site.lecture.duration_minutes = 2  # completion needs 96 s
    site.lecture.save(update_fields=["duration_minutes"])
    _flush_live(MemoryBuffer(), site.lecture, cadre, windows=4)
    checkin_scan(user=cadre, token=_code(site))
    checkin_unmark(lecture=site.lecture, venue=site.school, user_id=cadre.pk, by=school_staff)
    row = Attendance.objects.get(user=cadre)
    assert row.completed and row.credit_hours_earned == site.lecture.credit_hours
    _consistent(site.lecture)


def test_organiser_correction_still_wins_over_a_checkin(
    clock: Any, site: Site, cadre: User, organiser: User
) -> None:
    checkin_scan(user=cadre, token=_code(site))
    row = Attendance.objects.get(user=cadre)
    attendance_override_create(attendance=row, completed=False, reason="中途离场", by=organiser)
    checkin_scan(user=cadre, token=_code(site))  # a repeat scan does not undo it
    _consistent(site.lecture)
    stored = summaries_stored(lecture_ids=[site.lecture.pk])[0]
    assert stored[(site.lecture.pk, int(cadre.unit_id or 0))][4] == 0  # completed


# ---------------------------------------------------------------------------------------
# Roster marking
# ---------------------------------------------------------------------------------------


@pytest.fixture
def klass(tree: Tree, site: Site, programme: Programme, cadre: User) -> list[User]:
    others = [UserFactory(username=f"class{i}", unit=tree.lingyin) for i in range(3)]
    enrolment_assign_bulk(programme=programme, users=others, venue=site.school, assigned_by=None)
    return [cadre, *others]


def test_mark_whole_class(
    clock: Any, site: Site, klass: list[User], school_staff: User, tree: Tree, programme: Programme
) -> None:
    elsewhere = UserFactory(username="elsewhere", unit=tree.xihu)
    enrolment_create(user=elsewhere, programme=programme)
    checkin_scan(user=elsewhere, token=_code(site, site.hall))
    early = checkin_scan(user=klass[0], token=_code(site)).check_in
    clock.shift(60)
    results = checkin_roster_mark(lecture=site.lecture, venue=site.school, by=school_staff)
    assert sorted(r.user_id for r in results) == sorted(u.pk for u in klass)
    assert sum(r.created for r in results) == 3
    assert Attendance.objects.get(user=klass[0]).checked_in_at == early.checked_in_at
    assert Attendance.objects.get(user=elsewhere).venue == site.hall  # not on this roster
    roster = checkin_roster(lecture=site.lecture, venue=site.school)
    assert (roster.checked_in, roster.expected) == (4, 4)
    log = AuditLog.objects.get(action="checkin.mark")
    assert sorted(log.detail["users"]) == sorted(u.pk for u in klass[1:])
    # Marking again changes nothing.
    again = checkin_roster_mark(lecture=site.lecture, venue=site.school, by=school_staff)
    assert not any(r.created for r in again)
    _consistent(site.lecture)


def test_mark_one_must_be_on_the_roster(
    clock: Any, site: Site, klass: list[User], school_staff: User, outsider: User
) -> None:
    with pytest.raises(CheckInError) as excinfo:
        checkin_roster_mark(
            lecture=site.lecture, venue=site.school, by=school_staff, user_ids=[outsider.pk]
        )
    assert excinfo.value.code == CheckInErrorCode.NOT_ON_ROSTER
    (one,) = checkin_roster_mark(
        lecture=site.lecture, venue=site.school, by=school_staff, user_ids=[klass[2].pk]
    )
    assert one.user_id == klass[2].pk and one.created
    assert Attendance.objects.filter(checked_in_at__isnull=False).count() == 1
    _consistent(site.lecture)


def test_mark_outside_the_window_is_refused(
    clock: Any, site: Site, klass: list[User], school_staff: User
) -> None:
    clock.move_to(START + timedelta(days=2))
    with pytest.raises(CheckInError) as excinfo:
        checkin_roster_mark(lecture=site.lecture, venue=site.school, by=school_staff)
    assert excinfo.value.code == CheckInErrorCode.OUTSIDE_WINDOW
    assert not Attendance.objects.exists()


def test_mark_whole_class_then_flush_many(
    clock: Any, site: Site, klass: list[User], school_staff: User
) -> None:
    buffer = MemoryBuffer()
    for user in klass[:2]:
        _flush_live(buffer, site.lecture, user, windows=2)
    checkin_roster_mark(lecture=site.lecture, venue=site.school, by=school_staff)
    for user in klass[1:]:
        _flush_live(buffer, site.lecture, user, windows=1, first=5)
    seconds = dict(Attendance.objects.values_list("user_id", "live_seconds"))
    assert seconds == {klass[0].pk: 60, klass[1].pk: 90, klass[2].pk: 30, klass[3].pk: 30}
    assert Attendance.objects.filter(completed=True).count() == 4
    _consistent(site.lecture)


# ---------------------------------------------------------------------------------------
# Staff authorisation
# ---------------------------------------------------------------------------------------


def test_staff_scope(site: Site, school_staff: User, organiser: User, cadre: User) -> None:
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    lecture, venue = checkin_venue_get_for_staff(
        user=school_staff, lecture_id=site.lecture.pk, venue_id=site.school.pk
    )
    assert (lecture, venue) == (site.lecture, site.school)
    with pytest.raises(PermissionDenied):
        checkin_venue_get_for_staff(
            user=school_staff, lecture_id=site.lecture.pk, venue_id=site.ningbo.pk
        )
    with pytest.raises(PermissionDenied):
        checkin_venue_get_for_staff(user=cadre, lecture_id=site.lecture.pk, venue_id=site.school.pk)
    with pytest.raises(Http404):
        checkin_venue_get_for_staff(user=school_staff, lecture_id=site.lecture.pk, venue_id=999999)
    with pytest.raises(Http404):
        checkin_venue_get_for_staff(user=school_staff, lecture_id=999999, venue_id=site.school.pk)
    not_shown = VenueFactory(unit=site.school.unit)
    with pytest.raises(Http404):
        checkin_venue_get_for_staff(
            user=school_staff, lecture_id=site.lecture.pk, venue_id=not_shown.pk
        )
    # The Hangzhou organiser's scope does not reach Ningbo either.
    with pytest.raises(PermissionDenied):
        checkin_venue_get_for_staff(
            user=organiser, lecture_id=site.lecture.pk, venue_id=site.ningbo.pk
        )


# ---------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------


def _staff_url(name: str, site: Site, venue: Venue | None = None) -> str:
    return reverse(f"courses:{name}", args=[site.lecture.pk, (venue or site.school).pk])


def test_staff_page_and_status(
    client: Client, clock: Any, site: Site, klass: list[User], school_staff: User
) -> None:
    client.force_login(school_staff)
    response = client.get(_staff_url("checkin_staff", site))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html and "集中收看签到" in html and "全班签到" in html
    assert response["Cache-Control"].startswith("max-age=0")
    status = client.get(_staff_url("checkin_status", site)).json()
    assert status["open"] and status["svg"].startswith("<svg")
    assert status["url"].startswith("http://testserver/check-in/")
    assert (status["checked_in"], status["expected"]) == (0, 4)
    checkin_scan(user=klass[1], token=status["url"].rstrip("/").rsplit("/", 1)[1])
    status = client.get(_staff_url("checkin_status", site)).json()
    assert (status["checked_in"], status["checked_in_ids"]) == (1, [klass[1].pk])
    assert client.get(_staff_url("checkin_staff", site, site.ningbo)).status_code == 403
    assert client.get(_staff_url("checkin_status", site, site.ningbo)).status_code == 403


def test_staff_page_outside_the_window_shows_no_code(
    client: Client, clock: Any, site: Site, school_staff: User
) -> None:
    clock.move_to(START - timedelta(hours=2))
    client.force_login(school_staff)
    html = client.get(_staff_url("checkin_staff", site)).content.decode()
    assert "<svg" not in html and "签到尚未开放" in html
    assert client.get(_staff_url("checkin_status", site)).json()["open"] is False


def test_staff_mark_and_unmark_through_the_page(
    client: Client, clock: Any, site: Site, klass: list[User], school_staff: User
) -> None:
    client.force_login(school_staff)
    response = client.post(_staff_url("checkin_mark", site), follow=True)
    assert "已为 4 名学员签到" in response.content.decode()
    response = client.post(
        _staff_url("checkin_unmark", site), {"user": str(klass[1].pk)}, follow=True
    )
    assert "已撤销签到" in response.content.decode()
    assert Attendance.objects.filter(checked_in_at__isnull=False).count() == 3
    for bad in ("abc", "-1", "9" * 40, ""):
        response = client.post(_staff_url("checkin_unmark", site), {"user": bad}, follow=True)
        assert response.status_code == 200
        assert "该学员未在本收看点签到" in response.content.decode()
    response = client.post(_staff_url("checkin_mark", site), {"user": "x1"}, follow=True)
    assert response.status_code == 200 and "名单" in response.content.decode()
    assert client.get(_staff_url("checkin_mark", site)).status_code == 405


def test_cadre_cannot_open_the_staff_page(client: Client, site: Site, cadre: User) -> None:
    client.force_login(cadre)
    assert client.get(_staff_url("checkin_staff", site)).status_code == 403
    assert client.post(_staff_url("checkin_mark", site)).status_code == 403


def test_scan_page_success_and_refusals(
    client: Client, clock: Any, site: Site, cadre: User
) -> None:
    url = reverse("courses:checkin_scan", args=[_code(site)])
    assert client.get(url).status_code == 302  # sign in first
    client.force_login(cadre)
    response = client.get(url)
    assert response.status_code == 200 and "签到成功" in response.content.decode()
    assert "西湖区委党校" in response.content.decode()
    response = client.get(url)
    assert "您已签到" in response.content.decode()
    data = client.get(url, HTTP_ACCEPT="application/json").json()
    assert data["ok"] and data["code"] == "already_checked_in"
    clock.shift(90)
    response = client.get(url)
    assert response.status_code == 410 and "二维码已过期" in response.content.decode()
    response = client.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 410 and response.json()["code"] == "expired"
    response = client.get(reverse("courses:checkin_scan", args=["forged:code"]))
    assert response.status_code == 400 and "签到码无效" in response.content.decode()
    wrong = reverse("courses:checkin_scan", args=[_code(site, site.hall)])
    response = client.get(wrong)
    assert response.status_code == 403 and "西湖区委党校" in response.content.decode()


def test_lecture_page_links_to_checkin_for_staff_only(
    client: Client, site: Site, school_staff: User, cadre: User
) -> None:
    client.force_login(school_staff)
    html = client.get(reverse("courses:lecture", args=[site.lecture.pk])).content.decode()
    assert _staff_url("checkin_staff", site) in html
    assert _staff_url("checkin_staff", site, site.hall) in html
    assert _staff_url("checkin_staff", site, site.ningbo) not in html  # outside the scope
    client.force_login(cadre)
    html = client.get(reverse("courses:lecture", args=[site.lecture.pk])).content.decode()
    assert "check-in/" not in html


def test_admin_lecture_page_links_to_checkin(client: Client, site: Site, organiser: User) -> None:
    from portal.services import organiser_permissions_grant

    organiser_permissions_grant(user=organiser)
    client.force_login(organiser)
    url = reverse("admin:courses_lecture_change", args=[site.lecture.pk])
    html = client.get(url).content.decode()
    assert _staff_url("checkin_staff", site) in html


@pytest.mark.django_db(transaction=True)
def test_flush_waits_for_an_open_checkin_and_keeps_both(
    clock: Any, site: Site, cadre: User
) -> None:
    """Two connections: a check-in transaction still open while the flush of the same
    cadre's seconds runs. The flush waits on the row and then adds to it."""
    import threading

    from django.db import connection, transaction

    buffer = MemoryBuffer()
    _credit(buffer, site.lecture, cadre, windows=4, first=0)
    token = _code(site)
    inside, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def check_in() -> None:
        try:
            with transaction.atomic():
                checkin_scan(user=cadre, token=token)
                inside.set()
                release.wait(10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def flush() -> None:
        try:
            attendance_flush(buffer=buffer)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=check_in)
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=flush)
    second.start()
    second.join(1.0)
    assert second.is_alive()  # blocked on the uncommitted check-in row
    release.set()
    first.join(10)
    second.join(10)
    assert not errors
    row = Attendance.objects.get(user=cadre, lecture=site.lecture)
    assert (row.live_seconds, row.venue_id, row.completed) == (120, site.school.pk, True)
    assert row.checked_in_at is not None
    _consistent(site.lecture)
