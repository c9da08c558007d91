"""``manage.py import_directory --kind cadres``: upserts keyed by 干部编号, moves that keep
attendance and the report summaries right, deactivation, every kind of bad row with its
exact report and nothing changed."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from openpyxl import Workbook

from courses.models import Attendance, Lecture
from courses.services import enrolment_create
from courses.summaries.rebuild import summaries_compute, summaries_stored
from courses.summaries.sync import attendance_summaries_sync
from portal.models import AuditLog, OrgUnit, User, UserSession
from tests.conftest import Tree

pytestmark = pytest.mark.django_db
HEADER = ["干部编号", "姓名", "手机号", "单位编码", "浙政钉账号", "职级", "状态"]


@pytest.fixture
def coded(tree: Tree) -> Tree:
    """The tree's units with the organisation departments' unit codes."""
    for unit, code in (
        (tree.province, "ZJ"),
        (tree.hangzhou, "ZJ-HZ"),
        (tree.xihu, "ZJ-HZ-XH"),
        (tree.lingyin, "ZJ-HZ-XH-LY"),
        (tree.village, "ZJ-HZ-XH-LY-01"),
        (tree.haishu, "ZJ-NB-HS"),
    ):
        OrgUnit.objects.filter(pk=unit.pk).update(directory_code=code)
    return tree


def write_csv(path: Path, rows: Sequence[Sequence[object]], *, encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("import_directory", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def snapshot() -> list[tuple[Any, ...]]:
    return list(
        User.objects.order_by("pk").values_list(
            "username",
            "cadre_no",
            "full_name",
            "phone",
            "unit_id",
            "zwdd_employee_code",
            "rank",
            "is_active",
        )
    )


BASE = [
    HEADER,
    ["G001", "张三", "13800000001", "ZJ-HZ-XH-LY", "GE_001", "科员", "在职"],
    ["G002", "李四", "138 0000 0002", "ZJ-HZ-XH-LY-01", "", "", ""],
    ["G003", "王五", "+8613800000003", "ZJ-NB-HS", "GE_003", "", "在职"],
]


def test_create_then_rerun_changes_nothing(tmp_path: Path, coded: Tree) -> None:
    path = write_csv(tmp_path / "cadres.csv", BASE)
    status, out = run("--kind", "cadres", str(path))
    assert status == 0, out
    assert out.strip().splitlines()[-1] == (
        "created=3 updated=0 moved=0 deactivated=0 unchanged=0 errors=0"
    )
    g1 = User.objects.get(cadre_no="G001")
    assert (g1.username, g1.full_name, g1.phone, g1.unit_id, g1.zwdd_employee_code, g1.rank) == (
        "G001",
        "张三",
        "13800000001",
        coded.lingyin.pk,
        "GE_001",
        "科员",
    )
    assert not g1.has_usable_password()  # they sign in with 浙政钉 or a code by SMS
    assert User.objects.get(cadre_no="G002").phone == "13800000002"
    assert User.objects.get(cadre_no="G002").zwdd_employee_code is None
    before = snapshot()
    status, out = run("--kind", "cadres", str(path))
    assert out.strip().splitlines()[-1] == (
        "created=0 updated=0 moved=0 deactivated=0 unchanged=3 errors=0"
    )
    assert snapshot() == before
    assert AuditLog.objects.filter(action="directory.import_cadres").count() == 2


def test_xlsx_with_numeric_cells_and_gbk_and_bom_csv(tmp_path: Path, coded: Tree) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["G001", "张三", 13800000001, "ZJ-HZ-XH-LY", "GE_001", None, None])
    book.save(tmp_path / "cadres.xlsx")
    assert run("--kind", "cadres", str(tmp_path / "cadres.xlsx"))[0] == 0
    assert User.objects.get(cadre_no="G001").phone == "13800000001"
    gbk = write_csv(tmp_path / "gbk.csv", [*BASE[:1], BASE[2]], encoding="gbk")
    assert run("--kind", "cadres", str(gbk))[0] == 0
    assert User.objects.get(cadre_no="G002").full_name == "李四"
    bom = write_csv(tmp_path / "bom.csv", [*BASE[:1], BASE[3]], encoding="utf-8-sig")
    assert run("--kind", "cadres", str(bom))[0] == 0
    assert User.objects.get(cadre_no="G003").full_name == "王五"


def test_every_kind_of_bad_row_is_reported_and_nothing_changes(
    tmp_path: Path, coded: Tree, outsider: User
) -> None:
    run("--kind", "cadres", str(write_csv(tmp_path / "ok.csv", BASE)))
    User.objects.filter(pk=outsider.pk).update(phone="13900000009")
    before = snapshot()
    rows = [
        HEADER,
        ["G001", "张三", "13800000001", "ZJ-HZ-XH-LY", "GE_001", "", "在职"],
        ["", "无编号", "13800000011", "ZJ-HZ-XH-LY", "", "", ""],
        ["G010", "", "13800000012", "ZJ-HZ-XH-LY", "", "", ""],
        ["G011", "赵六", "1380000", "ZJ-HZ-XH-LY", "", "", ""],
        ["G012", "钱七", "13800000013", "NOWHERE", "", "", ""],
        ["G001", "重复", "13800000014", "ZJ-HZ-XH-LY", "", "", ""],
        [],
        ["G013", "孙八", "13800000015", "ZJ-HZ-XH-LY", "", "", "退休"],
        ["G014", "周九", "13800000001", "ZJ-HZ-XH-LY", "", "", ""],
        ["G015", '=HYPERLINK("x")', "13900000009", "ZJ-HZ-XH-LY", "", "", ""],
    ]
    report = tmp_path / "bad.csv"
    status, out = run(
        "--kind",
        "cadres",
        str(write_csv(tmp_path / "bad_input.csv", rows)),
        "--report",
        str(report),
    )
    assert status == 1
    assert out.strip().splitlines()[-1].endswith("errors=7")
    with report.open(encoding="utf-8-sig") as f:
        got = list(csv.reader(f))
    assert got == [
        ["行号", "列", "原因"],
        ["3", "干部编号", "缺少干部编号。"],
        ["4", "姓名", "缺少姓名。"],
        ["5", "手机号", "不是有效的11位手机号码。"],
        ["6", "单位编码", "没有单位编码为 NOWHERE 的单位。"],
        ["7", "干部编号", "干部编号与第2行重复。"],
        ["9", "状态", "请填写“在职”或“离职”。"],
        ["10", "手机号", "手机号码与第2行重复。"],
    ]
    assert snapshot() == before


def test_missing_columns_are_reported_at_line_1(tmp_path: Path, coded: Tree) -> None:
    path = write_csv(tmp_path / "c.csv", [["干部编号", "姓名"], ["G1", "张三"]])
    status, out = run("--kind", "cadres", str(path))
    assert status == 1
    assert "第1行 手机号" in out and "第1行 单位编码" in out
    assert not User.objects.filter(cadre_no="G1").exists()


def test_conflicting_numbers_in_the_database_are_errors_but_swaps_work(
    tmp_path: Path, coded: Tree, outsider: User
) -> None:
    run("--kind", "cadres", str(write_csv(tmp_path / "ok.csv", BASE)))
    User.objects.filter(pk=outsider.pk).update(phone="13900000009")
    taken = [HEADER, ["G004", "吴十", "13900000009", "ZJ-HZ-XH-LY", "", "", ""]]
    status, out = run("--kind", "cadres", str(write_csv(tmp_path / "t.csv", taken)))
    assert status == 1 and "第2行 手机号" in out
    swap = [
        HEADER,
        ["G001", "张三", "13800000002", "ZJ-HZ-XH-LY", "GE_001", "科员", "在职"],
        ["G002", "李四", "13800000001", "ZJ-HZ-XH-LY-01", "", "", ""],
    ]
    status, out = run("--kind", "cadres", str(write_csv(tmp_path / "s.csv", swap)))
    assert status == 0, out
    assert User.objects.get(cadre_no="G001").phone == "13800000002"
    assert User.objects.get(cadre_no="G002").phone == "13800000001"


def test_formula_cells_are_stored_as_literal_text(tmp_path: Path, coded: Tree) -> None:
    rows = [HEADER, ["G020", "=1+1", "", "ZJ-HZ-XH-LY", "", "-科员", ""]]
    assert run("--kind", "cadres", str(write_csv(tmp_path / "f.csv", rows)))[0] == 0
    user = User.objects.get(cadre_no="G020")
    assert (user.full_name, user.rank) == ("=1+1", "-科员")


def test_moves_keep_attendance_and_summaries_equal_a_rebuild(
    tmp_path: Path, coded: Tree, lecture: Lecture
) -> None:
    rows = [HEADER] + [
        [f"M{i:04d}", f"干部{i}", "", "ZJ-HZ-XH-LY", "", "", ""] for i in range(1000)
    ]
    assert run("--kind", "cadres", str(write_csv(tmp_path / "a.csv", rows)))[0] == 0
    users = list(User.objects.filter(cadre_no__startswith="M").order_by("cadre_no"))
    for user in users[:300]:
        enrolment_create(user=user, programme=lecture.programme)
    Attendance.objects.bulk_create(
        [Attendance(user=u, lecture=lecture, live_seconds=1800) for u in users[:300]]
    )
    attendance_summaries_sync(lecture_id=lecture.pk)
    moved = [HEADER] + [
        [f"M{i:04d}", f"干部{i}", "", "ZJ-HZ-XH-LY-01" if i % 2 else "ZJ-NB-HS", "", "", ""]
        for i in range(1000)
    ]
    status, out = run("--kind", "cadres", str(write_csv(tmp_path / "b.csv", moved)))
    assert status == 0, out
    assert out.strip().splitlines()[-1] == (
        "created=0 updated=0 moved=1000 deactivated=0 unchanged=0 errors=0"
    )
    assert Attendance.objects.filter(lecture=lecture).count() == 300
    ids, programmes = [lecture.pk], [lecture.programme_id]
    assert summaries_stored(lecture_ids=ids, programme_ids=programmes) == summaries_compute(
        lecture_ids=ids, programme_ids=programmes
    )


def test_leavers_and_missing_cadres_are_deactivated_and_signed_out(
    tmp_path: Path, coded: Tree
) -> None:
    run("--kind", "cadres", str(write_csv(tmp_path / "ok.csv", BASE)))
    g2 = User.objects.get(cadre_no="G002")
    g2.set_password("zhixing-demo")
    g2.save()
    client = Client()
    assert (
        client.post("/accounts/login/", {"login": "G002", "password": "zhixing-demo"}).status_code
        == 302
    )
    assert UserSession.objects.filter(user=g2).exists()
    rows = [
        HEADER,
        ["G001", "张三", "13800000001", "ZJ-HZ-XH-LY", "GE_001", "科员", "离职"],
        ["G003", "王五", "13800000003", "ZJ-NB-HS", "GE_003", "", "在职"],
    ]
    path = write_csv(tmp_path / "leavers.csv", rows)
    status, out = run("--kind", "cadres", str(path), "--dry-run")
    assert out.strip().splitlines()[-1] == (
        "created=0 updated=0 moved=0 deactivated=1 unchanged=1 errors=0"
    )
    status, out = run("--kind", "cadres", str(path), "--dry-run", "--deactivate-missing")
    # only the units the file names are covered, not their subtrees: G002's village is not
    assert "deactivated=1" in out.strip().splitlines()[-1]
    assert User.objects.get(cadre_no="G001").is_active  # dry runs apply nothing
    rows.append(["G005", "新人", "", "ZJ-HZ-XH-LY-01", "", "", ""])  # now the village is covered
    path = write_csv(tmp_path / "leavers2.csv", rows)
    status, out = run("--kind", "cadres", str(path), "--deactivate-missing")
    assert status == 0, out
    assert out.strip().splitlines()[-1] == (
        "created=1 updated=0 moved=0 deactivated=2 unchanged=1 errors=0"
    )
    assert not User.objects.get(cadre_no="G001").is_active
    assert not User.objects.get(cadre_no="G002").is_active
    assert not UserSession.objects.filter(user=g2).exists()
    assert client.get("/me/study/").status_code == 302  # signed out


def test_an_unreadable_file_is_one_error(tmp_path: Path, coded: Tree) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a workbook")
    status, out = run("--kind", "cadres", str(path))
    assert status == 1 and "第1行" in out
