"""Issue 15 §7, bad input at scale: the directory import on any file whatever.

Any bytes as a CSV (random, BOMs, GBK), and files whose cells are anything (unicode,
formula prefixes ``= + - @`` and their full-width forms, control characters, NUL, very long
values, characters GBK cannot encode, blanks): the import either accepts the rows or
reports the bad ones — each with its line, its column and a Chinese reason — and never
raises anything else; a file with a bad row writes nothing. The pure parsing properties
run many examples; those that touch the database few. Seeded and bounded (``derandomize``,
no example database), so CI runs the same examples every time.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import translation
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from directory import cadres, units
from directory.cadres import CadreRows
from directory.reading import FileUnreadable, Table, table_open
from directory.report import ImportResult, RowError
from directory.services import directory_import
from portal.models import AuditLog, OrgUnit, User
from tests.conftest import Tree

PARSING = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=600,
    suppress_health_check=[HealthCheck.too_slow],
)
WITH_DB = settings(
    PARSING,
    max_examples=30,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CJK = re.compile(r"[\u4e00-\u9fff]")
# What a stored value or a reason must never hold: NUL (PostgreSQL refuses it in text and
# in JSON) and the other control characters XML 1.0 — so XLSX — cannot carry.
UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
FORMULA_STARTS = "=+-@＝＋－＠"
CONTROLS = "".join(map(chr, range(0x20))) + "\x7f\x85"
BLANKS = " \t\u3000\xa0\u2002\u200b\ufeff"


def _gbk_cannot(char: str) -> bool:
    try:
        char.encode("gbk")
    except UnicodeEncodeError:
        return True
    return False


GBK_UNENCODABLE = "".join(c for c in "😀𠀀ẞ\u0e01\u1100ſ\u2603\U0001f1e8\u00ff€" if _gbk_cannot(c))
assert len(GBK_UNENCODABLE) >= 6

# -- cells ----------------------------------------------------------------------------------

nasty_char = st.one_of(
    st.characters(blacklist_categories=["Cs"]),  # any character a file can hold
    st.sampled_from(FORMULA_STARTS + CONTROLS + BLANKS + GBK_UNENCODABLE + '",\r\n'),
)
nasty_cell = st.one_of(
    st.text(nasty_char, max_size=12),
    st.builds(lambda a, b: a + b, st.sampled_from(FORMULA_STARTS), st.text(nasty_char, max_size=8)),
    st.builds(
        lambda piece, times: piece * times,
        st.text(nasty_char, min_size=1, max_size=2),
        st.sampled_from([11, 12, 31, 32, 33, 50, 51, 64, 65, 100, 101, 3000]),
    ),
    st.sampled_from(
        [
            "",
            " ",
            "\u3000",
            "\x00",
            "张\x00三",
            "\x01",
            '=HYPERLINK("http://x")',
            "@SUM(A1)",
            "＝1+1",
            "-科员",
            "13８00000000",  # full-width digits (an IME's full-width mode)
            "1３8００００００００",
            "١٣٨٠٠٠٠٠٠٠٠",  # Arabic-Indic digits
            "+86 138-0000-0001",
            "1.38e10",
            "None",
            "ZJ-HZ\x00",
        ]
    ),
)


def mixed(good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly a plausible value of the column, sometimes anything."""
    return st.one_of(good, good, nasty_cell)


def data_lines(rows: list[list[str]]) -> list[int]:
    """The line numbers the reader gives the non-empty data rows (the header is line 1)."""
    return [n for n, cells in enumerate(rows, start=2) if any(c.strip() for c in cells)]


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def assert_reported(errors: list[RowError], *, lines: list[int], columns: set[str]) -> None:
    """Each bad row is a line of the file, a known column and a Chinese reason that is safe
    to store (the admin keeps the reasons in a JSON column) and to export."""
    for error in errors:
        assert error.line == 1 or error.line in lines, error
        assert error.column in columns or (error.line == 1 and error.column == ""), error
        assert CJK.search(error.reason), error
        assert not UNSTORABLE.search(error.reason), error


# -- reading: any bytes ---------------------------------------------------------------------

BOMS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff"]
any_text_bytes = st.builds(
    lambda text, encoding: text.encode(encoding),
    st.text(nasty_char, max_size=300),
    st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
)
gbk_bytes = st.builds(
    lambda text: text.encode("gbk", errors="ignore"), st.text(nasty_char, max_size=300)
)
csv_like_bytes = st.builds(
    lambda bom, body, cut: (bom + body)[: cut or None],
    st.sampled_from(BOMS),
    st.one_of(st.binary(max_size=600), any_text_bytes, gbk_bytes),
    st.integers(0, 600),
)


def _decodes(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def read_all(table: Table) -> list[tuple[int, list[str]]]:
    return list(table.rows)


@PARSING
@given(data=csv_like_bytes)
@example(data=b"\xff\xfe\x00\x00")
@example(data=b"\xef\xbb\xbf\xef\xbb\xbf,\n")
@example(data=b"a\x00b,c\r\n\x00,\x00\r\n")
def test_any_bytes_read_as_rows_or_as_unreadable(data: bytes, workdir: Path) -> None:
    path = workdir / "any.csv"
    path.write_bytes(data)
    try:
        table = table_open(path)
        rows = read_all(table)
    except FileUnreadable:
        event("unreadable")
        return
    event("read")
    assert all(isinstance(c, str) and c == c.strip() for c in table.header)
    lines = [line for line, _cells in rows]
    assert lines == sorted(set(lines)) and all(line >= 2 for line in lines)
    for _line, cells in rows:
        assert any(cells) and all(isinstance(c, str) and c == c.strip() for c in cells)
    assert table.done_fraction() == 1.0  # read to the end, the file closed


grids = st.lists(st.lists(nasty_cell, max_size=5), min_size=1, max_size=6)


@PARSING
@given(rows=grids, encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_cells_written_by_a_csv_writer_read_back_trimmed(
    rows: list[list[str]], encoding: str, workdir: Path
) -> None:
    data = csv_bytes(rows, encoding)
    if encoding == "gb18030":
        # GB18030 bytes that happen to be valid UTF-8 are read as UTF-8: a guess no reader
        # can avoid (only very short files can be both), not what this property is about
        assume(_decodes(data, "utf-8") in (None, data.decode("gb18030")))
    path = workdir / "grid.csv"
    path.write_bytes(data)
    table = table_open(path)
    got = read_all(table)
    assert table.encoding in (encoding, "utf-8")
    assert table.header == [c.strip() for c in rows[0]]
    body = rows[1:]
    assert got == [(line, [c.strip() for c in body[line - 2]]) for line in data_lines(body)]


@pytest.mark.parametrize(
    "data",
    [
        csv_bytes([["干部编号", "姓名"], ["G1", "x" * 140_000]], "utf-8"),
        b'\xe5\xa7\x93\xe5\x90\x8d\n"' + b"x" * 140_000,  # an open quote that never closes
    ],
)
def test_a_cell_beyond_the_csv_field_limit_is_unreadable_not_a_crash(
    data: bytes, workdir: Path
) -> None:
    """The csv module refuses a field over 128 KiB; after the header that used to escape
    as ``csv.Error`` (an import that crashed instead of reporting the file unreadable)."""
    path = workdir / "long.csv"
    path.write_bytes(data)
    table = table_open(path)
    with pytest.raises(FileUnreadable, match="line 2"):
        read_all(table)
    assert table.done_fraction() == 1.0


# -- XLSX -----------------------------------------------------------------------------------

xlsx_value = st.one_of(
    nasty_cell.map(lambda s: ILLEGAL_CHARACTERS_RE.sub("", s)),  # what openpyxl can write
    st.none(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([13800000001, 13800000001.0, 1.5, True]),
)


@settings(PARSING, max_examples=100)
@given(
    rows=st.lists(st.lists(xlsx_value, max_size=4), min_size=1, max_size=4),
    damage=st.one_of(st.none(), st.tuples(st.integers(0, 4000), st.binary(max_size=8))),
)
def test_any_workbook_reads_as_rows_or_as_unreadable(
    rows: list[list[Any]], damage: tuple[int, bytes] | None, workdir: Path
) -> None:
    """Workbooks of any cells, and workbooks whose sheet XML is cut or overwritten."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = workdir / "book.xlsx"
    book.save(path)
    if damage is not None:
        at, junk = damage
        with zipfile.ZipFile(path) as zin:
            parts = {name: zin.read(name) for name in zin.namelist()}
        xml = parts["xl/worksheets/sheet1.xml"]
        at %= len(xml)
        parts["xl/worksheets/sheet1.xml"] = xml[:at] + junk
        with zipfile.ZipFile(path, "w") as zout:
            for name, content in parts.items():
                zout.writestr(name, content)
    try:
        table = table_open(path)
        got = read_all(table)
    except FileUnreadable:
        event("unreadable")
        return
    event("read")
    for _line, cells in got:
        assert any(cells) and all(isinstance(c, str) and c == c.strip() for c in cells)


def cut_workbook(path: Path, *, where: str) -> Path:
    """A workbook whose sheet XML is cut (a broken download) in its first row or further on."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(CADRE_HEADER)
    for i in range(200):
        sheet.append([f"G{i:03d}", "张三", 13800000000 + i, "ZJ", None, None, None])
    book.save(path)
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"]
    cut = xml.index(b"<row") + 40 if where == "header" else len(xml) * 2 // 3
    parts["xl/worksheets/sheet1.xml"] = xml[:cut]
    with zipfile.ZipFile(path, "w") as zout:
        for name, content in parts.items():
            zout.writestr(name, content)
    return path


@pytest.mark.parametrize("where", ["header", "rows"])
def test_a_workbook_whose_sheet_is_cut_is_unreadable_not_a_crash(where: str, workdir: Path) -> None:
    """openpyxl parses a read-only sheet while it is read: a cut sheet used to escape as
    the XML parser's ``ParseError`` (from the header or from the rows)."""
    path = cut_workbook(workdir / f"cut-{where}.xlsx", where=where)
    with pytest.raises(FileUnreadable):
        read_all(table_open(path))


# -- cadre rows (pure: the rules applied while the file streams) ----------------------------

CADRE_COLUMNS = cadres.COLUMNS
CADRE_HEADER = list(CADRE_COLUMNS.values())
UNITS = {"ZJ": 1, "ZJ-HZ": 2, "ZJ-HZ-XH-LY": 3, "330106004001": 4}
OUTSIDE = {"ZJ-NB-HS"}
ASCII_CADRE_NO = re.compile(r"[0-9A-Za-z_\-]{1,32}")
ASCII_PHONE = re.compile(r"1[3-9][0-9]{9}")
ASCII_EMPLOYEE_CODE = re.compile(r"[0-9A-Za-z_\-.$]{1,64}")

cadre_values: dict[str, st.SearchStrategy[str]] = {
    "干部编号": mixed(st.integers(0, 12).map(lambda n: f"G{n:03d}")),
    "姓名": mixed(st.sampled_from(["张三", "李四", "欧阳娜娜", "=张三", "王 五", "Zhang San"])),
    "手机号": mixed(
        st.integers(0, 12).map(lambda n: f"138{n:08d}")
        | st.integers(0, 12).map(lambda n: f"+86 138-{n:04d}-0000")
    ),
    "单位编码": mixed(st.sampled_from([*UNITS, *OUTSIDE, "NOWHERE", ""])),
    "浙政钉账号": mixed(st.sampled_from(["", "", "GE_001", "GE_002", "ge.3$x"])),
    "职级": mixed(st.sampled_from(["", "科员", "-科员", "一级主任科员"])),
    "状态": mixed(st.sampled_from(["", "在职", "离职", "退休"])),
}


@st.composite
def cadre_files(draw: Callable[..., Any]) -> tuple[list[str], list[dict[str, str]]]:
    """A header (mostly the template's; sometimes reordered, short of a column, with a
    column twice or an unknown one) and rows of cells keyed by column."""
    header = list(CADRE_HEADER)
    shape = draw(st.sampled_from(["template"] * 5 + ["shuffled", "short", "twice", "extra"]))
    if shape == "shuffled":
        header = draw(st.permutations(header))
    elif shape == "short":
        header.remove(draw(st.sampled_from(header)))
    elif shape == "twice":
        header.append(draw(st.sampled_from(header)))
    elif shape == "extra":
        header.insert(draw(st.integers(0, len(header))), draw(nasty_cell))
    rows = draw(
        st.lists(
            st.one_of(
                st.fixed_dictionaries({label: cadre_values[label] for label in CADRE_HEADER}),
                st.just({}),  # an empty line
            ),
            min_size=1,
            max_size=8,
        )
    )
    return header, rows


def one_row(*cells: str) -> tuple[list[str], list[dict[str, str]]]:
    """A file of the template's header and one row."""
    return CADRE_HEADER, [dict(zip(CADRE_HEADER, cells, strict=True))]


def render(header: list[str], rows: list[dict[str, str]]) -> list[list[str]]:
    return [header] + [[row.get(label, "") for label in header] if row else [] for row in rows]


def check_cadres(path: Path) -> tuple[CadreRows, list[tuple[object, ...]]]:
    with translation.override("zh-hans"):
        check = CadreRows(table_open(path), dict(UNITS), set(OUTSIDE))
        return check, list(check.good())


@PARSING
@given(case=cadre_files(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
@example(
    case=one_row("G001", "张\x00三", "", "ZJ", "", "", ""),
    encoding="utf-8",
)
@example(
    case=one_row("G001", "张三", "", "ZJ", "", "科员\x01", ""),
    encoding="utf-8",
)
@example(
    case=one_row("G001", "张三", "", "ZJ\x00", "", "", ""),
    encoding="utf-8",
)
@example(
    case=one_row("G001", "张三", "13８00000000", "ZJ", "", "", ""),
    encoding="gb18030",
)
def test_cadre_rows_are_staged_only_when_every_rule_holds(
    case: tuple[list[str], list[dict[str, str]]], encoding: str, workdir: Path
) -> None:
    header, rows = case
    grid = render(header, rows)
    path = workdir / "cadres.csv"
    path.write_bytes(csv_bytes(grid, encoding))
    check, staged = check_cadres(path)
    lines = data_lines(grid[1:])
    assert_reported(check.errors, lines=lines, columns=set(CADRE_HEADER))
    header_bad = any(e.line == 1 for e in check.errors)
    if header_bad:
        event("header refused")
        assert not staged
        return
    assert check.rows == len(lines)
    bad_lines = {e.line for e in check.errors}
    assert [row[0] for row in staged] == [line for line in lines if line not in bad_lines]
    event("all rows staged" if not bad_lines else "some rows refused")
    by_line = {n: row for n, row in enumerate(rows, start=2)}
    for line, cadre_no, name, phone, unit_id, employee_code, rank, active in staged:
        assert isinstance(line, int)
        cells = {label: by_line[line].get(label, "").strip() for label in header}
        # what the staging table and every later use can hold
        assert isinstance(cadre_no, str) and ASCII_CADRE_NO.fullmatch(cadre_no)
        assert isinstance(name, str) and 1 <= len(name) <= cadres.NAME_MAX
        assert phone is None or (isinstance(phone, str) and ASCII_PHONE.fullmatch(phone))
        assert unit_id in UNITS.values()
        assert employee_code is None or (
            isinstance(employee_code, str) and ASCII_EMPLOYEE_CODE.fullmatch(employee_code)
        )
        assert isinstance(rank, str) and len(rank) <= cadres.RANK_MAX
        assert isinstance(active, bool)
        assert not UNSTORABLE.search(name) and not UNSTORABLE.search(rank)
        # and it is what the file says (formula cells included: stored as literal text)
        assert (cadre_no, name, rank) == (cells["干部编号"], cells["姓名"], cells.get("职级", ""))
        assert unit_id == UNITS[cells["单位编码"]]
        assert active == (cells.get("状态", "") != "离职")
    for position in (1, 3, 5):  # 干部编号, 手机号 and 浙政钉账号 are unique in the file
        values = [row[position] for row in staged if row[position] is not None]
        assert len(values) == len(set(values))


# -- unit rows ------------------------------------------------------------------------------

UNIT_COLUMNS = units.COLUMNS
UNIT_HEADER = list(UNIT_COLUMNS.values())
TREE = [  # a valid tree, children before their parents
    ["XH-LY-01", "灵隐村", "XH-LY", "村"],
    ["XH-LY", "灵隐街道", "HZ-XH", "乡"],
    ["ZJ", "浙江省", "", "省"],
    ["HZ", "杭州市", "ZJ", "市"],
    ["HZ-XH", "西湖区", "HZ", "县"],
    ["HZ-XH-ZZB", "=西湖区委组织部", "HZ-XH", "组织部"],
    ["HZ-XH-DX", "西湖区委党校", "HZ-XH", "党校"],
]


@st.composite
def unit_files(draw: Callable[..., Any]) -> list[list[str]]:
    """The valid tree, shuffled, some rows left out, some cells replaced by anything."""
    rows = [list(row) for row in draw(st.permutations(TREE))]
    rows = rows[: draw(st.integers(1, len(rows)))]
    for _ in range(draw(st.integers(0, 3))):
        row = draw(st.integers(0, len(rows) - 1))
        rows[row][draw(st.integers(0, 3))] = draw(nasty_cell)
    return [UNIT_HEADER, *rows]


@contextmanager
def rolled_back() -> Iterator[None]:
    """One example's writes, undone before the next (inside the test's transaction)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@dataclass
class Tables:
    units: list[tuple[Any, ...]]
    users: list[tuple[Any, ...]]
    audit: int


def tables() -> Tables:
    return Tables(
        list(OrgUnit.objects.order_by("pk").values_list("path", "name", "kind", "directory_code")),
        list(
            User.objects.order_by("pk").values_list(
                "cadre_no", "full_name", "phone", "unit_id", "zwdd_employee_code", "rank"
            )
        ),
        AuditLog.objects.count(),
    )


def import_file(kind: str, path: Path, *, dry_run: bool) -> ImportResult:
    with translation.override("zh-hans"):
        return directory_import(kind=kind, path=path, dry_run=dry_run)


@pytest.mark.django_db
@settings(WITH_DB, max_examples=100)
@given(grid=unit_files(), encoding=st.sampled_from(["utf-8", "gb18030"]))
@example(grid=[UNIT_HEADER, ["ZJ", "浙江\x00省", "", "省"]], encoding="utf-8")
@example(grid=[UNIT_HEADER, ["ZJ", "浙江省\x1b", "", "省"]], encoding="utf-8")
@example(
    grid=[UNIT_HEADER, ["ZJ", "浙江省", "", "省"], ["HZ", "杭州", "Z\x00J", "市"]], encoding="utf-8"
)
def test_unit_rows_are_checked_whole_on_a_dry_run(
    grid: list[list[str]], encoding: str, workdir: Path
) -> None:
    """On an empty tree, as a dry run: the checks only (one query for the existing units)."""
    path = workdir / "units.csv"
    path.write_bytes(csv_bytes(grid, encoding))
    result = import_file("units", path, dry_run=True)
    assert_reported(result.errors, lines=data_lines(grid[1:]), columns=set(UNIT_HEADER))
    event("accepted" if not result.errors else "refused")
    if not result.errors:
        assert result.created == len(data_lines(grid[1:]))
        for _code, name, _parent, _kind in grid[1:]:
            assert 1 <= len(name.strip()) <= units.NAME_MAX
            assert not UNSTORABLE.search(name)
    assert not result.applied and not OrgUnit.objects.exists()


@pytest.mark.django_db
@WITH_DB
@given(grid=unit_files())
@example(grid=[UNIT_HEADER, ["ZJ", "浙江\x00省", "", "省"]])
def test_unit_files_apply_whole_or_write_nothing(grid: list[list[str]], workdir: Path) -> None:
    path = workdir / "units-apply.csv"
    path.write_bytes(csv_bytes(grid, "utf-8"))
    with rolled_back():
        before = tables()
        result = import_file("units", path, dry_run=False)
        assert_reported(result.errors, lines=data_lines(grid[1:]), columns=set(UNIT_HEADER))
        if result.errors:
            event("refused")
            assert not result.applied and tables() == before
            return
        event("applied")
        assert result.applied
        stored = dict(OrgUnit.objects.values_list("directory_code", "name"))
        lines = data_lines(grid[1:])
        assert stored == {grid[line - 1][0].strip(): grid[line - 1][1].strip() for line in lines}


# -- cadre files end to end -----------------------------------------------------------------

CODES = {"ZJ": "province", "ZJ-HZ": "hangzhou", "ZJ-HZ-XH-LY": "lingyin", "ZJ-NB-HS": "haishu"}


@pytest.fixture
def coded(tree: Tree) -> Tree:
    for code, unit in CODES.items():
        OrgUnit.objects.filter(pk=getattr(tree, unit).pk).update(directory_code=code)
    return tree


@pytest.mark.django_db
@WITH_DB
@given(case=cadre_files())
@example(case=one_row("G001", "张\x00三", "", "ZJ", "", "", ""))
def test_cadre_files_apply_whole_or_write_nothing(
    case: tuple[list[str], list[dict[str, str]]], coded: Tree, workdir: Path
) -> None:
    header, rows = case
    grid = render(header, rows)
    path = workdir / "cadres-apply.csv"
    path.write_bytes(csv_bytes(grid, "utf-8-sig"))
    with rolled_back():
        before = tables()
        result = import_file("cadres", path, dry_run=False)
        assert_reported(result.errors, lines=data_lines(grid[1:]), columns=set(CADRE_HEADER))
        if result.errors:
            event("refused")
            assert not result.applied and tables() == before
            return
        event("applied")
        assert result.applied and result.created == len(data_lines(grid[1:]))
        for row in rows:
            if not any(v.strip() for v in row.values()):
                continue
            cells = {label: row.get(label, "").strip() for label in header}
            user = User.objects.get(cadre_no=cells["干部编号"])
            assert (user.full_name, user.rank) == (cells["姓名"], cells.get("职级", ""))


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_that_breaks_while_rows_are_staged_is_one_error_and_writes_nothing(
    kind: str, coded: Tree, workdir: Path
) -> None:
    """The unreadable part comes after good rows were COPYed: reported at line 1, rolled back."""
    if kind == "csv":
        rows = [CADRE_HEADER, ["G001", "张三", "", "ZJ", "", "", ""]]
        rows += [["G002", "x" * 140_000, "", "ZJ", "", "", ""]]
        path = workdir / "broken.csv"
        path.write_bytes(csv_bytes(rows, "utf-8"))
    else:
        path = cut_workbook(workdir / "broken.xlsx", where="rows")
    before = tables()
    result = import_file("cadres", path, dry_run=False)
    ((line, column, reason),) = [(e.line, e.column, e.reason) for e in result.errors]
    assert (line, column) == (1, "") and reason.startswith("无法读取文件")
    assert not result.applied and tables() == before
