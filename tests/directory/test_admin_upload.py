"""Organisers upload a directory file for their own subtree in the admin: checked in the
background (rows outside their area are errors), confirmed, applied once, scoped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from directory.models import DirectoryImport
from portal.models import AuditLog, OrgUnit, User
from portal.services import organiser_permissions_grant
from tests.conftest import Tree
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db
HEADER = "干部编号,姓名,手机号,单位编码,浙政钉账号,职级,状态\n"


@pytest.fixture(autouse=True)
def eager(uploads_run_inline: None) -> None:
    pass


@pytest.fixture
def hz_organiser(organiser: User, tree: Tree) -> User:
    for unit, code in ((tree.lingyin, "LY"), (tree.haishu, "HS")):
        OrgUnit.objects.filter(pk=unit.pk).update(directory_code=code)
    organiser_permissions_grant(user=organiser)
    return organiser


def _upload(client: Client, text: str, capture: Any, name: str = "cadres.csv") -> Any:
    with capture(execute=True):
        return client.post(
            "/admin/directory/directoryimport/add/",
            {
                "kind": "cadres",
                "file": SimpleUploadedFile(name, text.encode("utf-8"), "text/csv"),
            },
        )


def test_check_then_confirm_applies_once(
    client: Client, hz_organiser: User, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(hz_organiser)
    response = _upload(
        client, HEADER + "G1,张三,13800000001,LY,,,\n", django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    row = DirectoryImport.objects.get()
    assert row.status == DirectoryImport.Status.CHECKED
    assert row.counts["created"] == 1 and not User.objects.filter(cadre_no="G1").exists()
    page = client.get(f"/admin/directory/directoryimport/{row.pk}/change/").content.decode()
    assert 'id="confirm-import-button"' in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/directory/directoryimport/{row.pk}/confirm/")
    row.refresh_from_db()
    assert row.status == DirectoryImport.Status.APPLIED and row.applied_at is not None
    assert User.objects.filter(cadre_no="G1", unit__directory_code="LY").exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/directory/directoryimport/{row.pk}/confirm/")
    assert User.objects.filter(cadre_no="G1").count() == 1
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"directory.upload", "directory.confirm", "directory.import_cadres"} <= actions


def test_rows_outside_the_area_are_errors_and_nothing_is_applied(
    client: Client, hz_organiser: User, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(hz_organiser)
    text = HEADER + "G1,张三,13800000001,LY,,,\nG2,李四,13800000002,HS,,,\n"
    _upload(client, text, django_capture_on_commit_callbacks)
    row = DirectoryImport.objects.get()
    assert row.status == DirectoryImport.Status.REJECTED
    assert row.errors == [[3, "单位编码", "单位 HS 不在您的管理范围内。"]]
    page = client.get(f"/admin/directory/directoryimport/{row.pk}/change/").content.decode()
    assert "confirm-import-button" not in page and "单位 HS 不在您的管理范围内。" in page
    report = client.get(f"/admin/directory/directoryimport/{row.pk}/report/")
    assert report.content.decode("utf-8-sig").splitlines() == [
        "行号,列,原因",
        "3,单位编码,单位 HS 不在您的管理范围内。",
    ]
    assert client.post(f"/admin/directory/directoryimport/{row.pk}/confirm/").status_code == 302
    assert not User.objects.filter(cadre_no__in=["G1", "G2"]).exists()


def test_another_citys_organiser_cannot_see_or_confirm(
    client: Client, hz_organiser: User, tree: Tree, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(hz_organiser)
    _upload(client, HEADER + "G1,张三,13800000001,LY,,,\n", django_capture_on_commit_callbacks)
    row = DirectoryImport.objects.get()
    nb = UserFactory(username="org-nb", unit=tree.ningbo, is_staff=True)
    RoleFactory(user=nb, kind="organiser", unit=tree.ningbo)
    organiser_permissions_grant(user=nb)
    other = Client()
    other.force_login(nb)
    assert row.file_name not in other.get("/admin/directory/directoryimport/").content.decode()
    for url in ("change/", "report/", "progress/"):
        assert other.get(f"/admin/directory/directoryimport/{row.pk}/{url}").status_code == 403
    assert other.post(f"/admin/directory/directoryimport/{row.pk}/confirm/").status_code == 403
    row.refresh_from_db()
    assert row.status == DirectoryImport.Status.CHECKED


def test_only_csv_or_xlsx(
    client: Client, hz_organiser: User, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(hz_organiser)
    response = _upload(client, "x", django_capture_on_commit_callbacks, name="cadres.txt")
    assert response.status_code == 200 and "请上传 .csv 或 .xlsx 文件" in response.content.decode()
    assert not DirectoryImport.objects.exists()


def test_blank_templates_have_the_header_and_an_explanation(
    client: Client, hz_organiser: User, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    client.force_login(hz_organiser)
    page = client.get("/admin/directory/directoryimport/add/").content.decode()
    assert 'id="import-templates"' in page
    for kind, first in (("units", "单位编码"), ("cadres", "干部编号")):
        response = client.get(f"/admin/directory/directoryimport/template/{kind}/")
        assert response.status_code == 200
        path = tmp_path / f"{kind}.xlsx"
        path.write_bytes(response.content)
        book = load_workbook(path, read_only=True)
        header = next(book.worksheets[0].iter_rows(values_only=True))
        assert header[0] == first
        assert book.sheetnames[1] == "填写说明"
        # the blank template is itself a valid (empty) file for the import
        from directory.reading import table_open

        assert table_open(path).header == list(header)
    assert client.get("/admin/directory/directoryimport/template/other/").status_code == 404
