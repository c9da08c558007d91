"""Report exports (issue 5 §5): CSV/XLSX = the table on screen, escaped, audited; the CLI."""

# Fixtures come from tests/courses/reports/test_reports.py; pytest arguments shadow them on purpose.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from portal.exports import (
    EXPORT_FORMATS,
    ExportFormatError,
    cell_escape,
    export_filename,
    export_response,
)
from portal.models import AuditLog, User
from tests.courses.reports.test_reports import URL, Data, data, page_table  # noqa: F401
from tests.libreoffice import libreoffice_sheets

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------
# The shared module
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+86 138", "'+86 138"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("＝1+1", "'＝1+1"),
        ("西湖区", "西湖区"),
        ("a=b", "a=b"),
        ("", ""),
        (-5, -5),
        (Decimal("-1.5"), Decimal("-1.5")),
        (None, None),
    ],
)
def test_cell_escape(value: Any, expected: Any) -> None:
    assert cell_escape(value) == expected


def test_export_filename_strips_unsafe_characters() -> None:
    assert export_filename("考勤报表", "西湖/区", 'a"b', "..") == "考勤报表-西湖_区-a_b"
    assert export_filename("", "") == "export"


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_csv_has_bom_chinese_headers_and_escaped_cells() -> None:
    response = export_response(
        fmt="csv",
        filename="考勤报表-西湖区",
        headers=["单位", "人数"],
        rows=iter([["=cmd|' /C calc'!A0", 3], ["灵隐街道", -1]]),
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "考勤报表-西湖区.csv"
    body = _body(response)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [["单位", "人数"], ["'=cmd|' /C calc'!A0", "3"], ["灵隐街道", "-1"]]


def test_xlsx_is_write_only_and_escaped() -> None:
    response = export_response(
        fmt="xlsx", filename="x", headers=["单位", "学时"], rows=[["@SUM(1)", Decimal("2.5")]]
    )
    book = openpyxl.load_workbook(io.BytesIO(_body(response)))
    assert list(book.active.values) == [("单位", "学时"), ("'@SUM(1)", 2.5)]


def test_unknown_format_is_refused() -> None:
    assert EXPORT_FORMATS == ("csv", "xlsx")
    with pytest.raises(ExportFormatError):
        export_response(fmt="pdf", filename="x", headers=[], rows=[])


def test_streams_lazily_under_asgi() -> None:
    """The ASGI side pulls the rows in batches, not all at once."""
    pulled = 0

    def rows() -> Any:
        nonlocal pulled
        for i in range(50_000):
            pulled += 1
            yield [f"row{i}" * 10, i]

    response = export_response(fmt="csv", filename="big", headers=["a", "b"], rows=rows())

    async def first_chunk() -> bytes:
        async for part in response:
            return part
        return b""

    assert asyncio.run(first_chunk()).startswith(b"\xef\xbb\xbf")
    assert pulled < 10_000


# ---------------------------------------------------------------------------------------
# The report's downloads
# ---------------------------------------------------------------------------------------


def _csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _text(value: Any) -> str:
    """A cell read back by openpyxl as the page shows it (numbers with one place where the
    cell's number format says so is checked separately)."""
    if value is None:
        return ""
    return str(value)


def _same(cells: list[Any], screen: list[str]) -> bool:
    if len(cells) != len(screen):
        return False
    for value, shown in zip(cells, screen, strict=True):
        if isinstance(value, int | float):
            if Decimal(str(value)) != Decimal(shown):
                return False
        elif _text(value).removeprefix("'") != shown:
            return False
    return True


@pytest.mark.parametrize("view", ["units", "cadres"])
def test_csv_and_xlsx_hold_exactly_the_table_on_screen(
    client: Any, data: Data, school_staff: User, view: str
) -> None:
    client.force_login(school_staff)
    params = {
        "programme": data.programme.pk,
        "unit": data.tree.xihu.code,
        "sort": "-completion_rate" if view == "units" else "-credit_hours",
    }
    if view == "cadres":
        params["view"] = "cadres"
    html = client.get(URL, params).content.decode()
    screen = page_table(html)
    headers_html = html.split('id="report-table"', 1)[1].split("</thead>", 1)[0]

    response = client.get(URL, {**params, "format": "csv"})
    assert response.status_code == 200
    disposition = unquote(response["Content-Disposition"])
    assert "考勤报表" in disposition or "参学名单" in disposition
    assert "西湖区" in disposition and data.programme.title in disposition
    rows = _csv_rows(b"".join(response.streaming_content))
    for header in rows[0]:
        assert header in headers_html
    assert [[cell.removeprefix("'") for cell in row] for row in rows[1:]] == screen

    response = client.get(URL, {**params, "format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    values = list(book.active.values)
    assert list(values[0]) == rows[0]
    assert len(values) - 1 == len(screen)
    for row, shown in zip(values[1:], screen, strict=True):
        assert _same(list(row), shown), (row, shown)
    decimal_cells = [c for c in next(book.active.iter_rows(min_row=2)) if c.number_format == "0.0"]
    assert decimal_cells  # credit hours / minutes keep one decimal place in Excel

    entries = AuditLog.objects.filter(action="report.export.attendance").order_by("pk")
    assert [e.detail["format"] for e in entries] == ["csv", "xlsx"]
    for entry in entries:
        assert entry.user == school_staff
        assert entry.detail["rows"] == len(screen)
        assert entry.detail["params"]["unit"] == data.tree.xihu.code
        assert entry.target == f"portal.orgunit:{data.tree.xihu.pk}"


def test_hostile_cell_is_escaped_in_the_report(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    params = {"lecture": data.first.pk, "unit": data.beishan.code, "format": "csv"}
    rows = _csv_rows(b"".join(client.get(URL, params).streaming_content))
    assert rows[1][0] == "'=HYPERLINK(1)"
    params["format"] = "xlsx"
    book = openpyxl.load_workbook(io.BytesIO(b"".join(client.get(URL, params).streaming_content)))
    assert next(book.active.iter_rows(min_row=2, values_only=True))[0] == "'=HYPERLINK(1)"


def test_phones_are_masked_in_exports(client: Any, data: Data, school_staff: User) -> None:
    client.force_login(school_staff)
    params = {"lecture": data.first.pk, "unit": data.tree.lingyin.code, "view": "cadres"}
    body = b"".join(client.get(URL, {**params, "format": "csv"}).streaming_content).decode()
    assert "138****0001" in body and "13800000001" not in body


# ---------------------------------------------------------------------------------------
# The CLI
# ---------------------------------------------------------------------------------------


def _cli(*args: str | None) -> str:
    out = io.StringIO()
    call_command("attendance_report", *[str(a) for a in args], stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_cli_table_matches_the_page(client: Any, data: Data, school_staff: User) -> None:
    text = _cli("--lecture", str(data.first.pk), "--unit", data.tree.xihu.code, "--format", "table")
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["单位", "干部人数", "已报名"]
    client.force_login(school_staff)
    screen = page_table(
        client.get(URL, {"lecture": data.first.pk, "unit": data.tree.xihu.code}).content.decode()
    )
    assert [line.split() for line in lines[2:]] == screen
    entry = AuditLog.objects.get(action="report.export.attendance")
    assert entry.user is None
    assert entry.detail["via"] == "cli" and entry.detail["rows"] == len(screen)


def test_cli_csv_and_xlsx(data: Data, school_staff: User, tmp_path: Path) -> None:
    text = _cli(
        "--programme", str(data.programme.pk), "--unit", data.tree.xihu.code,
        "--format", "csv", "--as-user", school_staff.username,
    )  # fmt: skip
    rows = _csv_rows(text.encode())
    assert rows[0][0] == "单位" and rows[-1][0] == "合计"
    target = tmp_path / "r.xlsx"
    _cli(
        "--programme", str(data.programme.pk), "--unit", data.tree.xihu.code,
        "--format", "xlsx", "--output", str(target),
    )  # fmt: skip
    book = openpyxl.load_workbook(target)
    values = list(book.active.values)
    assert list(values[0]) == rows[0]
    assert all(_same(list(v), r) for v, r in zip(values[1:], rows[1:], strict=True))
    assert AuditLog.objects.filter(action="report.export.attendance").count() == 2
    assert AuditLog.objects.filter(user=school_staff, detail__format="csv").exists()


@pytest.mark.slow
def test_libreoffice_opens_the_xlsx_report(data: Data, tmp_path: Path) -> None:
    """Users open the report in Excel, WPS or LibreOffice: LibreOffice reads the same rows."""
    text = _cli("--lecture", str(data.first.pk), "--unit", data.tree.xihu.code, "--format", "csv")
    rows = _csv_rows(text.encode())
    target = tmp_path / "report.xlsx"
    _cli(
        "--lecture", str(data.first.pk), "--unit", data.tree.xihu.code,
        "--format", "xlsx", "--output", str(target),
    )  # fmt: skip
    [sheet] = libreoffice_sheets(target, tmp_path)
    assert sheet[0] == rows[0]  # the Chinese header
    assert [r[0] for r in sheet[1:]] == [r[0] for r in rows[1:]]  # units and 合计


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unit", "YUHANG", "--as-user", "school-xh"], "403"),
        (["--unit", "330000000000", "--as-user", "school-xh"], "403"),
        (["--unit", "339999999999"], "404"),
        (["--unit", "330106000000 OR 1=1"], "400 invalid_unit"),
        (["--unit", "330106000000", "--sort", "secret"], "400 invalid_sort"),
        (["--unit", "330106000000", "--as-user", "nobody"], "不存在"),
    ],
)
def test_cli_refuses_like_the_web(
    data: Data, school_staff: User, args: list[str], message: str
) -> None:
    args = [str(data.tree.yuhang.code) if a == "YUHANG" else a for a in args]
    with pytest.raises(CommandError) as excinfo:
        _cli("--lecture", str(data.first.pk), "--format", "csv", *args)
    assert message in str(excinfo.value)
    assert "李一" not in str(excinfo.value)
    assert not AuditLog.objects.filter(action="report.export.attendance").exists()


def test_cli_needs_a_subject(data: Data) -> None:
    with pytest.raises(CommandError):
        _cli("--unit", data.tree.xihu.code, "--format", "csv")
    with pytest.raises(CommandError):
        _cli("--lecture", "1", "--unit", data.tree.xihu.code, "--format", "pdf")
