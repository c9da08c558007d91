"""``manage.py import_directory --kind units``: the tree from 单位编码 / 上级单位编码, parents
after children, cycles and levels that break the tree, renames and moves."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from portal.models import OrgUnit
from tests.conftest import Tree
from tests.directory.test_import_cadres import run, write_csv

pytestmark = pytest.mark.django_db
HEADER = ["单位编码", "单位名称", "上级单位编码", "单位类型"]

TREE = [
    HEADER,
    ["XH-LY-01", "灵隐村", "XH-LY", "村"],  # before its parent
    ["XH-LY", "灵隐街道", "HZ-XH", "乡"],
    ["ZJ", "浙江省", "", "省"],
    ["HZ", "杭州市", "ZJ", "市"],
    ["HZ-XH", "西湖区", "HZ", "县"],
    ["HZ-XH-ZZB", "西湖区委组织部", "HZ-XH", "组织部"],
    ["HZ-XH-DX", "西湖区委党校", "HZ-XH", "党校"],
    ["NB", "宁波市", "ZJ", "市"],
]


def _tree() -> dict[str, tuple[str, str, str | None]]:
    units = {u.path: u for u in OrgUnit.objects.all()}
    step = OrgUnit.steplen
    out = {}
    for u in units.values():
        parent = units.get(u.path[:-step])
        out[u.directory_code or u.name] = (
            u.name,
            u.kind,
            (parent.directory_code if parent else None),
        )
    return out


def test_a_tree_in_any_order_then_a_rerun_changes_nothing(tmp_path: Path, db: None) -> None:
    path = write_csv(tmp_path / "units.csv", TREE)
    status, out = run("--kind", "units", str(path))
    assert status == 0, out
    assert out.strip().splitlines()[-1] == (
        "created=8 updated=0 moved=0 deactivated=0 unchanged=0 errors=0"
    )
    tree = _tree()
    assert tree["XH-LY-01"] == ("灵隐村", "village", "XH-LY")
    assert tree["HZ-XH-DX"] == ("西湖区委党校", "party_school", "HZ-XH")
    assert tree["ZJ"] == ("浙江省", "province", None)
    # treebeard's own view of the tree agrees (paths, depth, child counts)
    hz = OrgUnit.objects.get(directory_code="HZ-XH")
    assert hz.get_children_count() == 3 and hz.numchild == 3
    assert [u.directory_code for u in hz.get_ancestors()] == ["ZJ", "HZ"]
    assert run("--kind", "units", str(path))[1].strip().splitlines()[-1] == (
        "created=0 updated=0 moved=0 deactivated=0 unchanged=8 errors=0"
    )


def test_rename_move_and_new_children_of_existing_units(tmp_path: Path, db: None) -> None:
    run("--kind", "units", str(write_csv(tmp_path / "units.csv", TREE)))
    changes = [
        HEADER,
        ["HZ-XH-DX", "西湖区委党校（行政学校）", "HZ-XH", "党校"],  # renamed
        ["XH-LY-01", "灵隐村", "NB-HS", "村"],  # wrong level: a county is not a township
        ["NB-HS", "海曙区", "NB", "县"],
    ]
    status, out = run("--kind", "units", str(write_csv(tmp_path / "bad.csv", changes)))
    assert status == 1 and "第3行 单位类型" in out
    changes[2] = ["NB-HS-XM", "西门街道", "NB-HS", "乡"]
    changes.append(["XH-LY", "灵隐街道", "NB-HS", "乡"])  # the township moves to another county
    status, out = run("--kind", "units", str(write_csv(tmp_path / "ok.csv", changes)))
    assert status == 0, out
    assert out.strip().splitlines()[-1] == (
        "created=2 updated=1 moved=1 deactivated=0 unchanged=0 errors=0"
    )
    tree = _tree()
    assert tree["HZ-XH-DX"][0] == "西湖区委党校（行政学校）"
    assert tree["XH-LY"][2] == "NB-HS"
    assert tree["XH-LY-01"][2] == "XH-LY"  # its village went along
    assert OrgUnit.objects.get(directory_code="NB-HS").numchild == 2
    assert OrgUnit.objects.get(directory_code="HZ-XH").numchild == 2


def test_bad_unit_rows_are_reported_and_nothing_changes(tmp_path: Path, db: None) -> None:
    rows = [
        HEADER,
        ["A", "甲省", "", "省"],
        ["B", "乙市", "C", "市"],
        ["C", "丙市", "B", "市"],  # B and C are each other's parent
        ["D", "", "A", "市"],
        ["E", "戊区", "A", "县"],  # a county right below the province
        ["F", "己", "NOWHERE", "市"],
        ["A", "甲省again", "", "省"],
        ["G", "庚", "A", "大队"],
        ["H", "辛村", "", "村"],  # only a province can be the root
    ]
    report = tmp_path / "report.csv"
    status, _out = run(
        "--kind", "units", str(write_csv(tmp_path / "u.csv", rows)), "--report", str(report)
    )
    assert status == 1
    with report.open(encoding="utf-8-sig") as f:
        got = list(csv.reader(f))
    assert got == [
        ["行号", "列", "原因"],
        ["3", "上级单位编码", "上级单位形成循环。"],
        ["3", "单位类型", "该单位类型不能设在“市”类单位之下。"],
        ["4", "上级单位编码", "上级单位形成循环。"],
        ["4", "单位类型", "该单位类型不能设在“市”类单位之下。"],
        ["5", "单位名称", "缺少单位名称。"],
        ["6", "单位类型", "该单位类型不能设在“省”类单位之下。"],
        ["7", "上级单位编码", "没有单位编码为 NOWHERE 的单位。"],
        ["8", "单位编码", "单位编码与第2行重复。"],
        ["9", "单位类型", "单位类型应为 省、市、县、乡、村、组织部、党校、机关 之一。"],
        ["10", "单位类型", "只有省级单位可以没有上级单位。"],
    ]
    assert not OrgUnit.objects.exists()


def test_a_tree_made_before_is_adopted_by_its_administrative_codes(
    tmp_path: Path, tree: Tree
) -> None:
    rows = [
        HEADER,
        ["330000000000", "浙江省", "", "省"],
        ["330106000000", "西湖区", "330100000000", "县"],
        ["330106004000", "灵隐街道", "330106000000", "乡"],
        ["330106004099", "新村", "330106004000", "村"],
    ]
    status, out = run("--kind", "units", str(write_csv(tmp_path / "adopt.csv", rows)))
    assert status == 0, out
    assert out.strip().splitlines()[-1] == (
        "created=1 updated=0 moved=0 deactivated=0 unchanged=3 errors=0"
    )
    assert OrgUnit.objects.get(directory_code="330106004000").pk == tree.lingyin.pk
    assert OrgUnit.get_root_nodes().count() == 1  # no second province
    new = OrgUnit.objects.get(directory_code="330106004099")
    assert new.get_parent() == tree.lingyin
    cadres = [
        ["干部编号", "姓名", "手机号", "单位编码"],
        ["A1", "张三", "", "330203000000"],  # 海曙区 by its administrative code
    ]
    assert run("--kind", "cadres", str(write_csv(tmp_path / "c.csv", cadres)))[0] == 0
