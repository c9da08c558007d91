"""The audit log (docs/security.md §4): append-only in the app and in PostgreSQL, kept 184 days at
least, written for sign-ins (with the address), for every admin change on every admin
(with what changed, personal data masked), for moderation; read by superusers and scoped
auditors, exported as escaped CSV (the export audited too)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from courses.models import Lecture
from livestream.models import Question
from livestream.selectors import RoomAccess
from livestream.services import question_moderate
from portal.admin_site import AuditedAdminMixin
from portal.models import AuditLog, AuditLogImmutable, Role, User
from portal.services import audit_log_write
from tests.conftest import Tree
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "zhixing-demo"


def _entries(action: str) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action).order_by("pk"))


# --- append-only ----------------------------------------------------------------------------
def test_the_app_cannot_change_or_delete_an_entry(cadre: User) -> None:
    entry = audit_log_write(user=cadre, action="test.kept", target="x:1")
    entry.action = "test.rewritten"
    with pytest.raises(AuditLogImmutable):
        entry.save()
    with pytest.raises(AuditLogImmutable):
        entry.delete()
    with pytest.raises(AuditLogImmutable):
        AuditLog.objects.filter(pk=entry.pk).update(action="test.rewritten")
    with pytest.raises(AuditLogImmutable):
        AuditLog.objects.filter(pk=entry.pk).delete()
    assert AuditLog.objects.get(pk=entry.pk).action == "test.kept"


def test_postgresql_refuses_changes_and_early_deletes(cadre: User) -> None:
    assert connection.vendor == "postgresql"
    entry = audit_log_write(user=cadre, action="test.kept", target="x:1", address="10.0.0.1")
    for sql in (
        "UPDATE portal_auditlog SET action = 'test.rewritten' WHERE id = %s",
        "UPDATE portal_auditlog SET address = NULL, user_id = NULL WHERE id = %s",
        "DELETE FROM portal_auditlog WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [entry.pk])
    assert AuditLog.objects.get(pk=entry.pk).action == "test.kept"
    # an entry 185 days old may go (the retention purge); the actor's account may go too
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE portal_auditlog SET user_id = NULL WHERE id = %s", [entry.pk]
        )  # allowed: only the actor link, as ON DELETE SET NULL does
        cur.execute(
            "INSERT INTO portal_auditlog (at, action, target, detail) "
            "VALUES (%s, 'test.old', '', '{}') RETURNING id",
            [timezone.now() - timedelta(days=185)],
        )
        old_id = cur.fetchone()[0]
        cur.execute("DELETE FROM portal_auditlog WHERE id = %s", [old_id])
        assert cur.rowcount == 1


def test_deleting_a_user_keeps_their_entries(tree: Tree) -> None:
    user = UserFactory(username="leaver", unit=tree.xihu)
    audit_log_write(user=user, action="test.by_leaver", target="x:1")
    user.delete()
    (entry,) = _entries("test.by_leaver")
    assert entry.user_id is None


# --- sign-ins ---------------------------------------------------------------------------------
def test_sign_ins_failures_and_sign_outs_are_recorded_with_the_address(
    client: Client, cadre: User
) -> None:
    login = reverse("account_login")
    client.post(login, {"login": "13812345678", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    (failed,) = _entries("auth.sign_in_failed")
    assert failed.user is None and failed.address == "10.1.2.3"
    assert failed.target == "login:138****5678"  # the phone tried, masked
    assert "wrong" not in str(failed.detail)
    response = client.post(login, {"login": "cadre1", "password": PASSWORD}, REMOTE_ADDR="10.1.2.4")
    assert response.status_code == 302
    (signed_in,) = _entries("auth.sign_in")
    assert signed_in.user == cadre and signed_in.address == "10.1.2.4"
    assert signed_in.detail["method"] == "password"
    client.post(reverse("account_logout"), REMOTE_ADDR="10.1.2.4")
    (signed_out,) = _entries("auth.sign_out")
    assert signed_out.user == cadre


def test_rate_limit_refusals_answer_in_chinese_and_are_recorded_once_a_minute(
    client: Client, cadre: User, settings: SettingsWrapper
) -> None:
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    cache.clear()
    login = reverse("account_login")
    statuses = [
        client.post(login, {"login": "nobody", "password": "x"}, REMOTE_ADDR="10.7.7.7")
        for _ in range(5)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 429, 429, 429]
    refused = statuses[-1]
    assert "尝试次数过多" in refused.content.decode() and refused["Retry-After"] == "60"
    (entry,) = _entries("auth.rate_limited")
    assert (entry.user, entry.target, entry.address) == (None, "path:/accounts/login/", "10.7.7.7")
    cache.clear()


def test_admin_sign_in_failures_are_recorded(client: Client, tree: Tree) -> None:
    UserFactory(username="staff1", unit=tree.xihu, is_staff=True)
    client.post(reverse("admin:login"), {"username": "staff1", "password": "nope"})
    (failed,) = _entries("auth.sign_in_failed")
    assert failed.target == "login:staff1" and failed.detail == {"admin": True}


# --- admin changes ----------------------------------------------------------------------------
def test_every_registered_admin_is_audited() -> None:
    unaudited = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, AuditedAdminMixin)
    ]
    assert not unaudited
    assert len(admin.site._registry) > 20  # third-party admins (groups, allauth) included


def test_an_admin_change_records_what_changed_with_phones_masked(
    admin_client: Client, admin_user: User, cadre: User
) -> None:
    page = admin_client.get(reverse("admin:portal_user_change", args=[cadre.pk]))
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and not isinstance(value, list | tuple)
    }
    data |= {
        "phone": "13900001111",
        "full_name": "张三丰",
        "date_joined_0": timezone.localtime(cadre.date_joined).strftime("%Y-%m-%d"),
        "date_joined_1": timezone.localtime(cadre.date_joined).strftime("%H:%M:%S"),
        "roles-TOTAL_FORMS": "0",
        "roles-INITIAL_FORMS": "0",
    }
    data.pop("last_login", None)
    data.pop("password", None)
    response = admin_client.post(
        reverse("admin:portal_user_change", args=[cadre.pk]), data, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    (entry,) = _entries("portal.user.change")
    assert entry.user == admin_user and entry.address == "10.9.9.9"
    assert entry.detail["changes"]["phone"] == ["138****5678", "139****1111"]
    assert entry.detail["changes"]["full_name"] == ["张三", "张三丰"]
    assert "13900001111" not in str(entry.detail)


def test_third_party_admins_and_bulk_deletes_are_audited(admin_client: Client) -> None:
    admin_client.post(reverse("admin:auth_group_add"), {"name": "值班员"})
    (added,) = _entries("auth.group.add")
    groups = [Group.objects.create(name=f"临时{i}") for i in range(3)]
    response = admin_client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": [g.pk for g in groups], "post": "yes"},
    )
    assert response.status_code == 302
    deleted = _entries("auth.group.delete")
    assert sorted(e.detail["repr"] for e in deleted) == ["临时0", "临时1", "临时2"]
    assert added.detail["repr"] == "值班员"


# --- moderation -------------------------------------------------------------------------------
def test_moderation_actions_are_audited(lecture: Lecture, cadre: User, tree: Tree) -> None:
    moderator = UserFactory(username="mod1", unit=tree.hangzhou)
    question = Question.objects.create(lecture=lecture, author=cadre, text="何时开始？")
    access = RoomAccess(user=moderator, lecture=lecture, role="moderator")
    question_moderate(access=access, question_id=question.pk, action="reject", reason="重复")
    (entry,) = _entries("question.reject")
    assert entry.user == moderator and entry.target == f"livestream.question:{question.pk}"
    assert entry.detail == {"lecture": lecture.pk, "reason": "重复"}


# --- who reads it -----------------------------------------------------------------------------
def test_a_provincial_auditor_sees_entries_without_an_actor(client: Client, tree: Tree) -> None:
    auditor = UserFactory(username="audit-zj", unit=tree.province, is_staff=True)
    RoleFactory(user=auditor, kind=Role.Kind.AUDITOR, unit=tree.province)
    audit_log_write(user=None, action="auth.sign_in_failed", target="login:someone")
    client.force_login(auditor)
    page = client.get(reverse("admin:portal_auditlog_changelist"))
    assert page.status_code == 200 and "login:someone" in page.content.decode()
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_export_is_escaped_and_audited(admin_client: Client, admin_user: User) -> None:
    audit_log_write(user=admin_user, action="test.export", target="=cmd|' /C calc'!A0")
    entries = AuditLog.objects.filter(action="test.export")
    response = admin_client.post(
        reverse("admin:portal_auditlog_changelist"),
        {"action": "export_csv", "_selected_action": [e.pk for e in entries]},
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][3] == "'=cmd|' /C calc'!A0"
    (export,) = _entries("report.export.audit_log")
    assert export.user == admin_user and export.detail["rows"] == 1
    assert export.address == "127.0.0.1"  # every row a request writes carries its address


def test_rows_written_outside_a_request_have_no_address(cadre: User) -> None:
    assert audit_log_write(user=cadre, action="test.task", target=cadre).address is None
