"""Attendance in the organiser admin: read-only raw rows, scoped, audited corrections.

Hangzhou's organiser (fixture ``organiser``) runs ``programme``. In scope for them: Hangzhou
cadres' rows (also of a province programme) and every row of their own programme's lectures
(also of a Ningbo cadre). Out of scope: a Ningbo cadre's row of a Ningbo programme.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import courses.admin.attendance
from courses.attendance.credit import attendance_override_create
from courses.models import Attendance, AttendanceOverride, Lecture, Programme
from courses.summaries.rebuild import summaries_compute, summaries_stored
from courses.summaries.sync import attendance_summaries_sync
from portal.models import AuditLog, Role, User
from portal.services import organiser_permissions_grant
from tests.conftest import Tree
from tests.factories import LectureFactory, ProgrammeFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


def attend(user: User, lecture: Lecture, **values: Any) -> Attendance:
    """A raw row as the flush or a check-in would leave it, counted in the summaries."""
    values.setdefault("live_seconds", 1200)
    with transaction.atomic():
        row = Attendance.objects.create(user=user, lecture=lecture, **values)
        attendance_summaries_sync(lecture_id=lecture.pk, user_ids=[user.pk])
    return row


@dataclass
class Rows:
    own: Attendance  # Hangzhou cadre, Hangzhou programme
    province: Attendance  # Hangzhou cadre, province programme
    guest: Attendance  # Ningbo cadre, Hangzhou programme
    foreign: Attendance  # Ningbo cadre, Ningbo programme


@pytest.fixture
def rows(tree: Tree, lecture: Lecture, cadre: User, outsider: User) -> Rows:
    province = ProgrammeFactory(organiser_unit=tree.province, audience=[tree.province])
    ningbo = ProgrammeFactory(organiser_unit=tree.ningbo, audience=[tree.ningbo])
    province_lecture = LectureFactory(programme=province, sequence=1)
    ningbo_lecture = LectureFactory(programme=ningbo, sequence=1)
    return Rows(
        own=attend(cadre, lecture, live_seconds=600),
        province=attend(cadre, province_lecture, checked_in_at=timezone.now(), completed=True),
        guest=attend(outsider, lecture),
        foreign=attend(outsider, ningbo_lecture),
    )


@pytest.fixture
def organiser_client(client: Client, organiser: User) -> Client:
    organiser_permissions_grant(user=organiser)
    client.force_login(organiser)
    return client


@pytest.fixture
def ningbo_client(tree: Tree) -> Client:
    user = UserFactory(username="org-nb", unit=tree.ningbo, is_staff=True)
    RoleFactory(user=user, kind=Role.Kind.ORGANISER, unit=tree.ningbo)
    organiser_permissions_grant(user=user)
    client = Client()
    client.force_login(user)
    return client


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:courses_{name}", args=args)


def listed(response: Any) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def raw(row: Attendance) -> dict[str, Any]:
    fresh = Attendance.objects.get(pk=row.pk)
    return {**model_to_dict(fresh), "updated_at": fresh.updated_at}


def assert_summaries_consistent(*lectures: Lecture) -> None:
    ids = [lec.pk for lec in lectures]
    assert summaries_stored(lecture_ids=ids) == summaries_compute(lecture_ids=ids)


# ---------------------------------------------------------------------------
# Scope
# ---------------------------------------------------------------------------
def test_list_shows_only_rows_in_scope(organiser_client: Client, rows: Rows) -> None:
    response = organiser_client.get(url("attendance_changelist"))
    assert response.status_code == 200
    assert listed(response) == {rows.own.pk, rows.province.pk, rows.guest.pk}
    page = response.content.decode()
    assert "138****5678" in page  # phones masked
    assert "13812345678" not in page
    assert "参训记录" in page  # Chinese by default


def test_other_city_organiser_sees_only_their_rows(ningbo_client: Client, rows: Rows) -> None:
    response = ningbo_client.get(url("attendance_changelist"))
    # The Ningbo cadre's rows (also of Hangzhou's lecture); nothing of Hangzhou's cadres.
    assert listed(response) == {rows.guest.pk, rows.foreign.pk}


@pytest.mark.parametrize("page", ["attendance_change", "attendance_correct", "attendance_history"])
def test_out_of_scope_row_is_refused_with_403(ningbo_client: Client, rows: Rows, page: str) -> None:
    assert ningbo_client.get(url(page, rows.own.pk)).status_code == 403
    assert ningbo_client.get(url(page, rows.foreign.pk)).status_code == 200


def test_out_of_scope_correction_post_is_refused(ningbo_client: Client, rows: Rows) -> None:
    before = raw(rows.own)
    response = ningbo_client.post(
        url("attendance_correct", rows.own.pk), {"completed": "1", "reason": "越权"}
    )
    assert response.status_code == 403
    assert not AttendanceOverride.objects.exists()
    assert raw(rows.own) == before


def test_unknown_row_is_404(organiser_client: Client, rows: Rows) -> None:
    assert organiser_client.get(url("attendance_change", 999_999)).status_code == 404
    assert organiser_client.get(url("attendance_correct", 999_999)).status_code == 404
    assert organiser_client.get(url("attendance_correct", "abc")).status_code == 404


def test_school_staff_have_no_admin_access(client: Client, school_staff: User, rows: Rows) -> None:
    school_staff.is_staff = True
    school_staff.save(update_fields=["is_staff"])
    organiser_permissions_grant(user=school_staff)  # even with the permissions
    client.force_login(school_staff)
    assert client.get(url("attendance_changelist")).status_code == 403
    assert client.get(url("attendance_change", rows.own.pk)).status_code == 403
    assert client.get(url("attendance_correct", rows.own.pk)).status_code == 403


def test_superuser_sees_everything(admin_client: Client, rows: Rows) -> None:
    response = admin_client.get(url("attendance_changelist"))
    assert listed(response) == {rows.own.pk, rows.province.pk, rows.guest.pk, rows.foreign.pk}


# ---------------------------------------------------------------------------
# Raw rows are read-only
# ---------------------------------------------------------------------------
def test_raw_fields_are_not_editable(organiser_client: Client, rows: Rows) -> None:
    before = raw(rows.own)
    page = organiser_client.get(url("attendance_change", rows.own.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="live_seconds"' not in html
    assert 'name="reason"' in html  # the correction form is there
    response = organiser_client.post(
        url("attendance_change", rows.own.pk),
        {"live_seconds": 99_999, "replay_seconds": 5, "completed": "on"},
    )
    assert response.status_code == 403
    assert raw(rows.own) == before


def test_no_add_no_delete(admin_client: Client, rows: Rows) -> None:
    assert admin_client.get(url("attendance_add")).status_code == 403
    assert (
        admin_client.post(url("attendance_delete", rows.own.pk), {"post": "yes"}).status_code == 403
    )
    response = admin_client.post(
        url("attendance_changelist"),
        {"action": "delete_selected", "_selected_action": [rows.own.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert Attendance.objects.filter(pk=rows.own.pk).exists()
    assert admin_client.get(url("attendanceoverride_add")).status_code == 403


# ---------------------------------------------------------------------------
# Corrections
# ---------------------------------------------------------------------------
def test_correction_through_the_admin(
    organiser_client: Client, organiser: User, rows: Rows, lecture: Lecture
) -> None:
    before = raw(rows.own)
    assert not rows.own.completed
    response = organiser_client.post(
        url("attendance_correct", rows.own.pk),
        {"completed": "1", "reason": "  线下补学，已核实  "},
    )
    assert response.status_code == 302
    assert response["Location"] == url("attendance_change", rows.own.pk)
    override = AttendanceOverride.objects.get()
    assert (override.attendance_id, override.completed, override.reason, override.by_id) == (
        rows.own.pk,
        True,
        "线下补学，已核实",
        organiser.pk,
    )
    log = AuditLog.objects.get(action="attendance.override")
    assert log.user_id == organiser.pk
    assert log.target == f"attendance:{rows.own.pk}"
    assert log.detail == {"completed": True, "reason": "线下补学，已核实"}
    assert raw(rows.own) == before  # the raw row is untouched
    assert_summaries_consistent(lecture)

    page = organiser_client.get(url("attendance_change", rows.own.pk)).content.decode()
    assert "线下补学，已核实" in page  # listed read-only under the row
    assert "更正" in page
    listing = organiser_client.get(url("attendance_changelist"))
    shown = {r.pk: r for r in listing.context["cl"].result_list}
    admin_obj = listing.context["cl"].model_admin
    assert admin_obj.effective_completed(shown[rows.own.pk]) is True
    assert admin_obj.credit_hours(shown[rows.own.pk]) == lecture.credit_hours
    assert admin_obj.credit_hours(shown[rows.guest.pk]) == Decimal("0")


def test_newest_correction_wins(
    organiser_client: Client, organiser: User, rows: Rows, lecture: Lecture
) -> None:
    for value, reason in (("1", "补学"), ("0", "核查后撤销")):
        organiser_client.post(
            url("attendance_correct", rows.own.pk), {"completed": value, "reason": reason}
        )
    assert AttendanceOverride.objects.count() == 2
    listing = organiser_client.get(url("attendance_changelist") + "?corrected=1")
    (row,) = listing.context["cl"].result_list
    assert row.pk == rows.own.pk
    assert listing.context["cl"].model_admin.effective_completed(row) is False
    assert_summaries_consistent(lecture)


@pytest.mark.parametrize(
    "data",
    [
        {"completed": "1", "reason": ""},
        {"completed": "1", "reason": "   "},
        {"completed": "1"},
    ],
)
def test_missing_reason_is_a_chinese_form_error(
    organiser_client: Client, rows: Rows, data: dict[str, str]
) -> None:
    before = raw(rows.own)
    response = organiser_client.post(url("attendance_correct", rows.own.pk), data)
    assert response.status_code == 200
    assert "请填写更正原因" in response.content.decode()
    assert not AttendanceOverride.objects.exists()
    assert not AuditLog.objects.filter(action="attendance.override").exists()
    assert raw(rows.own) == before


@pytest.mark.parametrize(
    "data",
    [
        {"reason": "补学"},
        {"completed": "maybe", "reason": "补学"},
        {"completed": "1", "reason": "长" * 201},
    ],
)
def test_bad_correction_input(organiser_client: Client, rows: Rows, data: dict[str, str]) -> None:
    response = organiser_client.post(url("attendance_correct", rows.own.pk), data)
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert not AttendanceOverride.objects.exists()


def test_correcting_needs_the_permission(client: Client, tree: Tree, rows: Rows) -> None:
    """View permission alone shows the row, without the form; the correction page is 403."""
    from django.contrib.auth.models import Permission

    viewer = UserFactory(username="viewer-hz", unit=tree.hangzhou, is_staff=True)
    RoleFactory(user=viewer, kind=Role.Kind.ORGANISER, unit=tree.hangzhou)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_attendance"),
        Permission.objects.get(codename="view_attendanceoverride"),
    )
    client.force_login(viewer)
    page = client.get(url("attendance_change", rows.own.pk))
    assert page.status_code == 200
    assert 'name="reason"' not in page.content.decode()
    response = client.post(
        url("attendance_correct", rows.own.pk), {"completed": "1", "reason": "x"}
    )
    assert response.status_code == 403
    assert not AttendanceOverride.objects.exists()


def test_override_list_is_scoped_and_read_only(
    organiser_client: Client, ningbo_client: Client, organiser: User, rows: Rows
) -> None:
    mine = attendance_override_create(
        attendance=rows.own, completed=True, reason="补学", by=organiser
    )
    theirs = attendance_override_create(
        attendance=rows.foreign, completed=True, reason="补学", by=organiser
    )
    response = organiser_client.get(url("attendanceoverride_changelist"))
    assert {o.pk for o in response.context["cl"].result_list} == {mine.pk}
    assert organiser_client.get(url("attendanceoverride_change", theirs.pk)).status_code == 403
    page = organiser_client.get(url("attendanceoverride_change", mine.pk))
    assert page.status_code == 200
    assert 'name="reason"' not in page.content.decode()
    assert ningbo_client.get(url("attendanceoverride_change", mine.pk)).status_code == 403


# ---------------------------------------------------------------------------
# Filters, the capped count and the number of queries
# ---------------------------------------------------------------------------
def test_filters(organiser_client: Client, rows: Rows, programme: Programme) -> None:
    cl = url("attendance_changelist")
    assert listed(organiser_client.get(f"{cl}?programme={programme.pk}")) == {
        rows.own.pk,
        rows.guest.pk,
    }
    assert listed(organiser_client.get(f"{cl}?lecture={rows.province.lecture_id}")) == {
        rows.province.pk
    }
    assert listed(organiser_client.get(f"{cl}?in_person=1")) == {rows.province.pk}
    assert listed(organiser_client.get(f"{cl}?completed__exact=1")) == {rows.province.pk}
    assert listed(organiser_client.get(f"{cl}?q=张三")) == {rows.own.pk, rows.province.pk}
    assert listed(organiser_client.get(f"{cl}?q=outsider")) == {rows.guest.pk}
    # The programme filter offers the organiser's and the province's programmes, not Ningbo's.
    choices = organiser_client.get(cl).content.decode()
    assert rows.province.lecture.programme.title in choices
    assert rows.foreign.lecture.programme.title not in choices
    # Bad filter values: no 500.
    for query in ("programme=abc", "lecture=%00", "in_person=7", "corrected=x"):
        assert organiser_client.get(f"{cl}?{query}").status_code in (200, 302)


def test_count_looks_only_a_few_pages_ahead(
    organiser_client: Client, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(courses.admin.attendance, "PAGES_AHEAD", 1)
    monkeypatch.setattr(courses.admin.attendance.AttendanceAdmin, "list_per_page", 1)
    first = organiser_client.get(url("attendance_changelist"))
    assert first.context["cl"].result_count == 3  # counted 2 pages (+1 row), no further
    assert "超过 2 条" in first.content.decode()
    assert listed(first) == {rows.guest.pk}  # newest first
    last = organiser_client.get(url("attendance_changelist") + "?p=3")
    assert listed(last) == {rows.own.pk}
    assert "超过" not in last.content.decode()


def _more_rows(tree: Tree, lecture: Lecture, count: int, start: int) -> None:
    for i in range(start, start + count):
        attend(UserFactory(unit=tree.xihu, phone=f"1390000{i:04d}"), lecture)


def test_changelist_queries_do_not_grow_with_rows(
    organiser_client: Client,
    tree: Tree,
    rows: Rows,
    lecture: Lecture,
    django_assert_max_num_queries: Any,
    django_assert_num_queries: Any,
) -> None:
    cl = url("attendance_changelist")
    organiser_client.get(cl)  # warm caches (content types, sessions)
    with django_assert_max_num_queries(20) as few:
        assert organiser_client.get(cl).status_code == 200
    _more_rows(tree, lecture, 40, 0)
    attendance_override_create(
        attendance=Attendance.objects.filter(user__unit=tree.xihu).first(),  # type: ignore[arg-type]
        completed=True,
        reason="补学",
        by=User.objects.get(username="org-hz"),
    )
    with django_assert_num_queries(len(few.captured_queries)):
        response = organiser_client.get(cl)
    assert len(listed(response)) == 43
