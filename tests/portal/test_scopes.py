"""Scope rules: which sub-tree a user may see or manage. Exhaustive by role and unit."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from portal.models import Role, User
from portal.scopes import Capability, has_capability, scope_for, unit_get_in_scope
from tests.conftest import Tree
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_superuser_sees_everything(tree: Tree) -> None:
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    for cap in Capability:
        scope = scope_for(user=admin, capability=cap)
        assert scope.everything
        assert scope.contains(tree.haishu)


def test_cadre_has_no_staff_scope(cadre: User, tree: Tree) -> None:
    for cap in Capability:
        assert scope_for(user=cadre, capability=cap).is_empty
        assert not has_capability(user=cadre, capability=cap)
        assert not scope_for(user=cadre, capability=cap).contains(tree.lingyin)


@pytest.mark.parametrize(
    ("unit_attr", "inside"),
    [
        ("hangzhou", True),
        ("xihu", True),
        ("yuhang", True),
        ("lingyin", True),
        ("village", True),
        ("province", False),
        ("ningbo", False),
        ("haishu", False),
    ],
)
def test_city_organiser_scope_is_its_subtree(
    organiser: User, tree: Tree, unit_attr: str, inside: bool
) -> None:
    unit = getattr(tree, unit_attr)
    for cap in Capability:
        if cap is Capability.READ_AUDIT_LOG:  # auditors' alone, never an organiser's
            assert scope_for(user=organiser, capability=cap).is_empty
            continue
        assert scope_for(user=organiser, capability=cap).contains(unit) is inside


@pytest.mark.parametrize(
    ("unit_attr", "inside"),
    [
        ("xihu", True),
        ("lingyin", True),
        ("village", True),
        ("hangzhou", False),
        ("yuhang", False),
        ("haishu", False),
    ],
)
def test_school_reads_reports_but_does_not_manage(
    school_staff: User, tree: Tree, unit_attr: str, inside: bool
) -> None:
    unit = getattr(tree, unit_attr)
    assert scope_for(user=school_staff, capability=Capability.READ_REPORTS).contains(unit) is inside
    assert scope_for(user=school_staff, capability=Capability.CHECK_IN).contains(unit) is inside
    assert not scope_for(user=school_staff, capability=Capability.MANAGE_PROGRAMMES).contains(unit)


def test_inactive_staff_loses_scope(organiser: User, tree: Tree) -> None:
    organiser.is_active = False
    assert scope_for(user=organiser, capability=Capability.MANAGE_PROGRAMMES).is_empty


def test_nested_roles_collapse_to_the_outer_root(tree: Tree) -> None:
    user = UserFactory(username="multi")
    RoleFactory(user=user, kind=Role.Kind.ORGANISER, unit=tree.xihu)
    RoleFactory(user=user, kind=Role.Kind.ORGANISER, unit=tree.hangzhou)
    RoleFactory(user=user, kind=Role.Kind.ORGANISER, unit=tree.haishu)
    scope = scope_for(user=user, capability=Capability.MANAGE_PROGRAMMES)
    assert scope.paths == tuple(sorted([tree.hangzhou.path, tree.haishu.path]))
    assert scope.contains(tree.lingyin) and scope.contains(tree.haishu)
    assert not scope.contains(tree.province)


def test_scope_q_filters_units(organiser: User, tree: Tree) -> None:
    from portal.models import OrgUnit

    scope = scope_for(user=organiser, capability=Capability.MANAGE_PROGRAMMES)
    names = set(OrgUnit.objects.filter(scope.q()).values_list("name", flat=True))
    assert names == {"杭州市", "西湖区", "余杭区", "灵隐街道", "灵隐村"}


def test_unit_get_in_scope_404_for_unknown_and_403_outside(school_staff: User, tree: Tree) -> None:
    cap = Capability.READ_REPORTS
    assert unit_get_in_scope(user=school_staff, capability=cap, code="330106004000") == tree.lingyin
    with pytest.raises(Http404):
        unit_get_in_scope(user=school_staff, capability=cap, code="999999999999")
    with pytest.raises(Http404):
        unit_get_in_scope(user=school_staff, capability=cap, code="pk:abc")
    for bad in ("3301\x00", "9" * 200, "pk:1\x00"):
        with pytest.raises(Http404):
            unit_get_in_scope(user=school_staff, capability=cap, code=bad)
    with pytest.raises(PermissionDenied):
        unit_get_in_scope(user=school_staff, capability=cap, code="330110000000")
    with pytest.raises(PermissionDenied):
        unit_get_in_scope(user=school_staff, capability=cap, code=f"pk:{tree.haishu.pk}")
