"""Blank directory files for organisers: the header row, and a second sheet explaining each
column (XLSX, as they fill it in Excel or WPS)."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from directory import cadres, units

EXPLAIN = {
    "units": [
        ("单位编码", "必填。组织部门使用的单位编码，全省唯一；导入时据此新增或更新单位。"),
        ("单位名称", "必填，最多100字。"),
        (
            "上级单位编码",
            "省级单位留空；其他单位填写上级单位的单位编码（可以是本文件中后面的行）。",
        ),
        (
            "单位类型",
            "必填：省、市、县、乡、村、组织部、党校、机关。市在省下，县在市下，乡在县下，村在乡下；组织部、党校、机关设在行政区划单位之下。",
        ),
    ],
    "cadres": [
        ("干部编号", "必填。干部的唯一编号；导入时据此新增或更新干部，也是登录用户名。"),
        ("姓名", "必填，最多50字。"),
        ("手机号", "11位手机号码，可留空；用于短信验证码登录和短信通知，不能与他人重复。"),
        ("单位编码", "必填，干部所在单位的单位编码（先导入单位）。"),
        ("浙政钉账号", "可留空。浙政钉员工编码（employeeCode），首次浙政钉登录据此关联干部档案。"),
        ("职级", "可留空，最多50字。"),
        ("状态", "在职 或 离职，可留空（视为在职）；离职即停用账号并结束其登录。"),
    ],
}


def template_xlsx(kind: str) -> bytes:
    columns = list((units.COLUMNS if kind == "units" else cadres.COLUMNS).values())
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 (a new workbook always has one)
    sheet.title = "单位" if kind == "units" else "干部"
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        sheet.column_dimensions[cell.column_letter].width = 18
    help_sheet = book.create_sheet("填写说明")
    help_sheet.append(["列", "说明"])
    for row in EXPLAIN[kind]:
        help_sheet.append(list(row))
    help_sheet.column_dimensions["A"].width = 14
    help_sheet.column_dimensions["B"].width = 90
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
