"""The 浙政钉 directory sync (``manage.py sync_zwdd_directory``, the nightly task) against a
fake platform over real HTTP: every call signed (lists of codes as repeated parameters),
paging, organisations mapped to units (the existing tree adopted by its administrative
codes), employees to cadres through the import engine; an employee moved, an organisation
removed, a dry run, bad data, a wrong secret."""

from __future__ import annotations

import io
from urllib.parse import parse_qsl

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from directory.tasks import directory_sync_zwdd_task
from directory.zwdd.rows import cadre_no_for
from directory.zwdd.sync import directory_sync_zwdd
from portal.models import AuditLog, OrgUnit, User, UserSession
from portal.zwdd import GatewayError
from tests.conftest import Tree, Zwdd
from tests.fakes.zwdd import ZwddPlatformFake

pytestmark = pytest.mark.django_db

COUNTIES = 7  # more children than a page (3) under Hangzhou


def _directory(api: ZwddPlatformFake) -> None:
    api.add_org("GO_ZJ", "浙江省", type_code="GOV_DIVISION", division="330000000000")
    api.add_org("GO_HZ", "杭州市", parent="GO_ZJ", type_code="GOV_DIVISION", division="330100")
    api.add_org("GO_HZ_ORG", "中共杭州市委组织部", parent="GO_HZ", division="330100")
    api.add_org("GO_HZ_ORG_1", "干部一处", parent="GO_HZ_ORG", type_code="GOV_INTERNAL_INSTITUTION")
    api.add_org("GO_XH", "西湖区", parent="GO_HZ", type_code="GOV_DIVISION", division="330106")
    api.add_org(
        "GO_LY", "灵隐街道", parent="GO_XH", type_code="GOV_DIVISION", division="330106004000"
    )
    api.add_org("GO_XH_DX", "中共西湖区委党校", parent="GO_XH", division="330106")
    for i in range(COUNTIES):
        api.add_org(
            f"GO_C{i}",
            f"测试县{i}",
            parent="GO_HZ",
            type_code="GOV_DIVISION",
            division=f"3301{81 + i}000000",
        )
    api.add_org("GO_NB", "宁波市", parent="GO_ZJ", type_code="GOV_DIVISION", division="330200")
    api.add_employee("GE_001", "张三", org="GO_LY")
    api.add_employee("GE_002", "李四", org="GO_HZ_ORG_1")  # an internal office: its unit
    api.add_employee("GE_003", "王五", org="GO_XH_DX")
    api.add_employee("GE_004", "赵六", org="GO_NB")
    api.add_employee("GE_005", "钱七", org="GO_C3", status="F")  # 离职 on the platform
    for i in range(5):  # more employees than a page in one organisation
        api.add_employee(f"GE_1{i}", f"干部{i}", org="GO_C0")
    api.add_employee(f"GE_{'x' * 40}", "长编码", org="GO_C1")  # longer than a 干部编号


@pytest.fixture
def platform(zwdd_sso: Zwdd, settings: SettingsWrapper, tree: Tree) -> ZwddPlatformFake:
    settings.ZWDD_TENANT_ID = zwdd_sso.api.tenant_id
    settings.ZWDD_DIRECTORY_PAGE_SIZE = 3
    _directory(zwdd_sso.api)
    return zwdd_sso.api


def _unit(key: str) -> OrgUnit:
    return OrgUnit.objects.get(directory_code=key)


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("sync_zwdd_directory", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_the_first_sync_takes_the_tree_and_the_cadres(
    platform: ZwddPlatformFake, tree: Tree
) -> None:
    status, out = run()
    assert status == 0, out
    lines = out.strip().splitlines()
    assert lines[-2] == "units: created=9 updated=0 moved=0 deactivated=0 unchanged=5 errors=0"
    assert lines[-1] == "cadres: created=11 updated=0 moved=0 deactivated=0 unchanged=0 errors=0"
    # the spreadsheet-era tree is adopted by its administrative codes, not duplicated
    assert _unit("330100000000").pk == tree.hangzhou.pk
    assert _unit("330106004000").pk == tree.lingyin.pk
    department = _unit("GO_HZ_ORG")
    assert (department.kind, department.get_parent()) == ("org_department", tree.hangzhou)
    assert _unit("GO_XH_DX").kind == "party_school"
    assert not OrgUnit.objects.filter(directory_code="GO_HZ_ORG_1").exists()  # an office
    assert _unit("330181000000").kind == "county"
    zhang = User.objects.get(zwdd_employee_code="GE_001")
    assert (zhang.cadre_no, zhang.full_name, zhang.unit, zhang.phone) == (
        "GE_001",
        "张三",
        tree.lingyin,
        None,
    )
    assert not zhang.has_usable_password()  # they sign in with 浙政钉
    assert User.objects.get(zwdd_employee_code="GE_002").unit == department
    assert not User.objects.get(zwdd_employee_code="GE_005").is_active
    long = User.objects.get(zwdd_employee_code=f"GE_{'x' * 40}")
    assert long.cadre_no == cadre_no_for(f"GE_{'x' * 40}") and len(long.cadre_no or "") == 32
    entries = AuditLog.objects.filter(target="zwdd:GO_ZJ").order_by("pk")
    assert [e.action for e in entries] == ["directory.import_units", "directory.import_cadres"]
    # paged (3 per page) and batched: lists of codes go as repeated, signed parameters
    pages = [
        dict(parse_qsl(r.body.decode()))["pageNo"]
        for r in platform.calls("/mozi/organization/pageSubOrganizationCodes")
        if "organizationCode=GO_HZ&" in r.body.decode() + "&"
    ]
    assert pages == ["1", "2", "3", "4"]  # 10 children, 3 a page
    batched = [
        [v for k, v in parse_qsl(r.body.decode()) if k == "organizationCodes"]
        for r in platform.calls("/mozi/organization/listOrganizationsByCodes")
    ]
    assert max(len(codes) for codes in batched) > 1


def test_a_second_sync_changes_nothing(platform: ZwddPlatformFake) -> None:
    run()
    status, out = run()
    assert status == 0, out
    lines = out.strip().splitlines()
    assert lines[-2] == "units: created=0 updated=0 moved=0 deactivated=0 unchanged=14 errors=0"
    assert lines[-1] == "cadres: created=0 updated=0 moved=0 deactivated=0 unchanged=11 errors=0"


def test_a_move_and_a_removed_organisation(platform: ZwddPlatformFake, tree: Tree) -> None:
    run()
    by_hand = User.objects.create(  # a cadre from a spreadsheet, unknown to 浙政钉
        username="G900", cadre_no="G900", full_name="表格干部", unit=_unit("GO_XH_DX")
    )
    wang = User.objects.get(zwdd_employee_code="GE_003")
    wang.set_password("zhixing-demo")
    wang.save()
    client = Client()
    client.force_login(wang)
    assert UserSession.objects.filter(user=wang).exists()
    platform.move_employee("GE_001", to="GO_NB")
    platform.remove_org("GO_XH_DX")
    status, out = run("--dry-run")
    assert status == 0, out
    assert out.strip().splitlines()[-1] == (
        "cadres: created=0 updated=0 moved=1 deactivated=1 unchanged=9 errors=0"
    )
    assert User.objects.get(pk=wang.pk).is_active  # a dry run writes nothing
    status, out = run()
    assert status == 0, out
    assert User.objects.get(zwdd_employee_code="GE_001").unit == tree.ningbo
    assert not User.objects.get(pk=wang.pk).is_active
    assert not UserSession.objects.filter(user=wang).exists()
    assert client.get("/me/study/").status_code == 302  # signed out
    assert User.objects.get(pk=by_hand.pk).is_active  # not the sync's to deactivate
    assert OrgUnit.objects.filter(directory_code="GO_XH_DX").exists()  # units stay


def test_a_cadre_from_a_spreadsheet_keeps_number_and_phone(
    platform: ZwddPlatformFake, tree: Tree
) -> None:
    User.objects.create(
        username="G001",
        cadre_no="G001",
        full_name="张三（旧名）",
        phone="13800000001",
        rank="科员",
        unit=tree.xihu,
        zwdd_employee_code="GE_001",
    )
    status, out = run()
    assert status == 0, out
    zhang = User.objects.get(zwdd_employee_code="GE_001")
    assert (zhang.cadre_no, zhang.full_name, zhang.phone, zhang.rank, zhang.unit) == (
        "G001",
        "张三",
        "13800000001",
        "科员",
        tree.lingyin,
    )


def test_bad_data_is_reported_by_its_source_and_nothing_is_applied(
    platform: ZwddPlatformFake,
) -> None:
    platform.employees["GE_004"]["employeeName"] = ""
    before = (OrgUnit.objects.count(), User.objects.count(), AuditLog.objects.count())
    status, out = run()
    assert status == 1
    lines = out.strip().splitlines()
    assert lines[0] == "GE_004 姓名: 缺少姓名。"
    assert lines[1].endswith("(not applied)")
    assert lines[-1] == "cadres: created=0 updated=0 moved=0 deactivated=0 unchanged=0 errors=1"
    assert (OrgUnit.objects.count(), User.objects.count(), AuditLog.objects.count()) == before


def test_a_wrong_secret_reads_nothing_and_writes_nothing(
    platform: ZwddPlatformFake, settings: SettingsWrapper
) -> None:
    settings.ZWDD_APP_SECRET = "wrong"
    before = (OrgUnit.objects.count(), User.objects.count())
    with pytest.raises(GatewayError) as caught:
        directory_sync_zwdd()
    assert caught.value.is_configuration
    with pytest.raises(CommandError, match="could not be read"):
        call_command("sync_zwdd_directory", stdout=io.StringIO())
    assert (OrgUnit.objects.count(), User.objects.count()) == before


def test_the_nightly_task_runs_only_when_switched_on(
    platform: ZwddPlatformFake, settings: SettingsWrapper
) -> None:
    settings.ZWDD_DIRECTORY_SYNC = False
    directory_sync_zwdd_task()
    assert not platform.calls("/mozi/organization/getRootOrganization")
    settings.ZWDD_DIRECTORY_SYNC = True
    directory_sync_zwdd_task()
    assert User.objects.filter(zwdd_employee_code="GE_001").exists()
