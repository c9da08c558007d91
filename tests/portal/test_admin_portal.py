"""The portal admin: users (masked phones), the org tree, roles and the read-only audit log,
each limited to the staff user's scope."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from portal.models import AuditLog, OrgUnit, Role, User
from portal.services import audit_log_write, organiser_permissions_grant
from tests.conftest import Tree
from tests.factories import RoleFactory, UserFactory, unit_create

pytestmark = pytest.mark.django_db


def grant(user: User, *codenames: str) -> None:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)


@pytest.fixture
def organiser_client(client: Client, organiser: User) -> Client:
    organiser_permissions_grant(user=organiser)
    client.force_login(organiser)
    return client


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:portal_{name}", args=args)


def errors_of(response: Any) -> list[str]:
    return re.findall(
        r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S
    )


ROLES_MANAGEMENT = {
    "roles-TOTAL_FORMS": "0",
    "roles-INITIAL_FORMS": "0",
    "roles-MIN_NUM_FORMS": "0",
    "roles-MAX_NUM_FORMS": "1000",
}


# ---------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------
def test_user_list_masks_phones_and_keeps_to_scope(
    organiser_client: Client, cadre: User, outsider: User
) -> None:
    UserFactory(username="root", is_superuser=True, is_staff=True, unit=None)
    response = organiser_client.get(url("user_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "138****5678" in body
    assert "13812345678" not in body
    assert "张三" in body
    assert "李四" not in body  # Ningbo
    assert ">root<" not in body
    assert organiser_client.get(url("user_change", outsider.pk)).status_code == 403
    assert organiser_client.get(url("user_change", cadre.pk)).status_code == 200


def test_superuser_sees_every_user_and_adds_one(
    admin_client: Client, tree: Tree, cadre: User, outsider: User
) -> None:
    body = admin_client.get(url("user_changelist")).content.decode()
    assert "张三" in body and "李四" in body
    response = admin_client.post(
        url("user_add"),
        {
            "username": "newcadre",
            "full_name": "王五",
            "phone": "13900001111",
            "unit": tree.xihu.pk,
            "usable_password": "true",
            "password1": "Zx-strong-pass-2025",
            "password2": "Zx-strong-pass-2025",
            **ROLES_MANAGEMENT,
        },
    )
    assert response.status_code == 302, errors_of(response)
    user = User.objects.get(username="newcadre")
    assert (
        user.full_name == "王五"
        and user.unit == tree.xihu
        and user.check_password("Zx-strong-pass-2025")
    )


def test_user_phone_is_validated(admin_client: Client, cadre: User) -> None:
    response = admin_client.post(
        url("user_add"),
        {"username": "badphone", "phone": "12345", "usable_password": "false", **ROLES_MANAGEMENT},
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="badphone").exists()


def test_organiser_cannot_put_a_user_outside_scope_or_grant_superuser(
    organiser_client: Client, organiser: User, cadre: User, tree: Tree
) -> None:
    grant(organiser, "add_user", "change_user")
    response = organiser_client.post(
        url("user_add"),
        {
            "username": "nb-cadre",
            "unit": tree.ningbo.pk,
            "usable_password": "false",
            **ROLES_MANAGEMENT,
        },
    )
    assert response.status_code == 200
    assert "该单位不存在或不在您的管理范围内" in response.content.decode()
    assert not User.objects.filter(username="nb-cadre").exists()
    response = organiser_client.post(
        url("user_add"), {"username": "no-unit", "usable_password": "false", **ROLES_MANAGEMENT}
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="no-unit").exists()
    # is_superuser is read-only for organisers: posting it changes nothing.
    page = organiser_client.get(url("user_change", cadre.pk)).content.decode()
    assert 'name="is_superuser"' not in page


# ---------------------------------------------------------------------------
# The org tree
# ---------------------------------------------------------------------------
def test_org_tree_lists_the_subtree_only(organiser_client: Client, tree: Tree) -> None:
    response = organiser_client.get(url("orgunit_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "西湖区" in body and "灵隐村" in body
    assert "海曙区" not in body and "宁波市" not in body
    assert organiser_client.get(url("orgunit_change", tree.haishu.pk)).status_code == 403


def test_org_tree_search_by_code_and_filter_by_kind(admin_client: Client, tree: Tree) -> None:
    body = admin_client.get(url("orgunit_changelist"), {"q": "330106004"}).content.decode()
    assert "灵隐街道" in body and "灵隐村" in body and "余杭区" not in body
    body = admin_client.get(url("orgunit_changelist"), {"kind__exact": "county"}).content.decode()
    assert "西湖区" in body and "海曙区" in body and "灵隐街道" not in body


def unit_post(unit: OrgUnit, **values: Any) -> dict[str, Any]:
    data = {"name": unit.name, "kind": unit.kind, "code": unit.code or ""}
    data.update(values)
    return data


def test_organiser_renames_a_unit_without_moving_it(
    organiser_client: Client, organiser: User, tree: Tree
) -> None:
    grant(organiser, "change_orgunit")
    page = organiser_client.get(url("orgunit_change", tree.hangzhou.pk))
    assert page.status_code == 200
    assert "宁波市" not in page.content.decode()  # out-of-scope units are not offered
    initial = page.context["adminform"].form.initial
    data = unit_post(
        tree.hangzhou,
        name="杭州市(改)",
        _position=initial["_position"],
        _ref_node_id=initial["_ref_node_id"],
    )
    response = organiser_client.post(url("orgunit_change", tree.hangzhou.pk), data)
    assert response.status_code == 302, errors_of(response)
    tree.hangzhou.refresh_from_db()
    assert tree.hangzhou.name == "杭州市(改)"
    assert tree.hangzhou.get_parent() == tree.province
    assert AuditLog.objects.filter(action="portal.orgunit.change").exists()


def test_organiser_cannot_move_a_unit_out_of_scope(
    organiser_client: Client, organiser: User, tree: Tree
) -> None:
    grant(organiser, "change_orgunit", "add_orgunit")
    path_before = OrgUnit.objects.get(pk=tree.xihu.pk).path
    target = url("orgunit_change", tree.xihu.pk)
    # Next to Hangzhou = under the province: outside the scope.
    response = organiser_client.post(
        target, unit_post(tree.xihu, _position="right", _ref_node_id=tree.hangzhou.pk)
    )
    assert response.status_code == 200
    assert "该单位移动后的位置必须在您的管理范围内" in response.content.decode()
    # Under Ningbo: not even a choice.
    response = organiser_client.post(
        target, unit_post(tree.xihu, _position="first-child", _ref_node_id=tree.ningbo.pk)
    )
    assert response.status_code == 200
    # A new root.
    response = organiser_client.post(
        url("orgunit_add"),
        {
            "name": "新省",
            "kind": "province",
            "code": "",
            "_position": "first-child",
            "_ref_node_id": "",
        },
    )
    assert response.status_code == 200
    assert not OrgUnit.objects.filter(name="新省").exists()
    # Drag and drop in the tree view.
    response = organiser_client.post(
        url("orgunit_changelist") + "move/",
        {"node_id": tree.xihu.pk, "sibling_id": tree.hangzhou.pk, "as_child": 0},
    )
    assert response.status_code == 400
    assert OrgUnit.objects.get(pk=tree.xihu.pk).path == path_before


def test_organiser_moves_a_unit_inside_scope(
    organiser_client: Client, organiser: User, tree: Tree
) -> None:
    grant(organiser, "change_orgunit")
    response = organiser_client.post(
        url("orgunit_change", tree.lingyin.pk),
        unit_post(tree.lingyin, _position="first-child", _ref_node_id=tree.yuhang.pk),
    )
    assert response.status_code == 302, errors_of(response)
    assert OrgUnit.objects.get(pk=tree.lingyin.pk).get_parent() == tree.yuhang


def test_unit_code_must_have_twelve_digits(admin_client: Client, tree: Tree) -> None:
    response = admin_client.post(
        url("orgunit_add"),
        {
            "name": "错码村",
            "kind": "village",
            "code": "33abc",
            "_position": "first-child",
            "_ref_node_id": tree.lingyin.pk,
        },
    )
    assert response.status_code == 200
    assert "12" in response.content.decode()
    assert not OrgUnit.objects.filter(name="错码村").exists()


# ---------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------
def test_roles_stay_inside_scope(
    organiser_client: Client, organiser: User, cadre: User, outsider: User, tree: Tree
) -> None:
    grant(organiser, "view_role", "add_role")
    RoleFactory(user=outsider, kind=Role.Kind.SCHOOL, unit=tree.haishu)
    body = organiser_client.get(url("role_changelist")).content.decode()
    assert "海曙区" not in body
    response = organiser_client.post(
        url("role_add"), {"user": cadre.pk, "kind": "school", "unit": tree.ningbo.pk}
    )
    assert response.status_code == 200
    assert not Role.objects.filter(user=cadre).exists()
    response = organiser_client.post(
        url("role_add"), {"user": cadre.pk, "kind": "school", "unit": tree.xihu.pk}
    )
    assert response.status_code == 302
    assert Role.objects.filter(user=cadre, unit=tree.xihu).exists()


# ---------------------------------------------------------------------------
# The audit log
# ---------------------------------------------------------------------------
def test_audit_log_is_read_only(admin_client: Client, admin_user: User) -> None:
    entry = audit_log_write(user=admin_user, action="test.action", target="x:1", detail={"a": 1})
    assert admin_client.get(url("auditlog_changelist")).status_code == 200
    assert admin_client.get(url("auditlog_add")).status_code == 403
    page = admin_client.get(url("auditlog_change", entry.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(url("auditlog_change", entry.pk), {"action": "x"}).status_code == 403
    assert admin_client.post(url("auditlog_delete", entry.pk), {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.action == "test.action"


def test_audit_log_is_for_auditors_of_the_area_not_organisers(
    client: Client, organiser_client: Client, organiser: User, outsider: User, tree: Tree
) -> None:
    grant(organiser, "view_auditlog")  # a model permission alone opens nothing
    assert organiser_client.get(url("auditlog_changelist")).status_code == 403
    auditor = UserFactory(username="audit-hz", unit=tree.hangzhou, is_staff=True)
    RoleFactory(user=auditor, kind=Role.Kind.AUDITOR, unit=tree.hangzhou)
    audit_log_write(user=organiser, action="mine.action", target="x:1")
    audit_log_write(user=outsider, action="theirs.action", target="x:2")
    audit_log_write(user=None, action="anonymous.action", target="x:3")
    client.force_login(auditor)
    body = client.get(url("auditlog_changelist")).content.decode()
    assert "mine.action" in body and "theirs.action" not in body
    assert "anonymous.action" not in body  # no actor: for auditors of a whole tree only
    theirs = AuditLog.objects.get(action="theirs.action")
    assert client.get(url("auditlog_change", theirs.pk)).status_code == 403


def test_org_tree_changelist_fetches_parents_once(
    admin_client: Client, tree: Tree, django_assert_max_num_queries: Any
) -> None:
    for i in range(40):
        unit_create(name=f"测试村{i}", kind="village", parent=tree.lingyin)
    with django_assert_max_num_queries(12):
        response = admin_client.get(url("orgunit_changelist"))
    assert response.status_code == 200
    assert "测试村39" in response.content.decode()


def test_move_form_leaves_out_villages_but_keeps_the_current_place(
    admin_client: Client, tree: Tree
) -> None:
    second = unit_create(name="灵隐二村", kind="village", parent=tree.lingyin)
    form = admin_client.get(url("orgunit_change", second.pk)).context["adminform"].form
    labels = [str(label) for _pk, label in form.fields["_ref_node_id"].choices]
    assert any("灵隐村" in label for label in labels)  # its previous sibling: the current place
    assert any("灵隐街道" in label for label in labels)
    form = admin_client.get(url("orgunit_change", tree.xihu.pk)).context["adminform"].form
    labels = [str(label) for _pk, label in form.fields["_ref_node_id"].choices]
    assert not any("灵隐村" in label for label in labels)  # villages are not offered
    assert not any("灵隐街道" in label for label in labels)  # nor its own subtree
