"""Reading a directory file as rows of text, streaming: CSV (UTF-8 with or without BOM, or
GBK/GB18030 as Excel on Chinese Windows writes it, detected) or XLSX (the first sheet,
openpyxl read-only). Never the whole file in memory."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

SNIFF_BYTES = 1 << 20  # decide the encoding from the first MiB


class FileUnreadable(Exception):
    """The file cannot be read as a directory file at all (reported at line 1)."""


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (line number, cells); the header is line 1
    encoding: str
    # How far through the file the reading is (0–1), for a progress estimate; None: unknown.
    done_fraction: Callable[[], float | None] = lambda: None


def csv_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the end is not an error
    except UnicodeDecodeError:
        return "gb18030"  # a superset of GBK: what Excel writes on Chinese Windows
    return "utf-8"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number typed into Excel is a number
    return str(value).strip()


def _numbered(rows: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    for line, cells in enumerate(rows, start=2):
        if any(cells):  # empty lines are skipped (their numbers still count)
            yield line, cells


def _open_csv(path: Path) -> Table:
    with path.open("rb") as probe:
        encoding = csv_encoding(probe.read(SNIFF_BYTES))
    raw = path.open("rb")  # closed with the stream when the rows are exhausted
    size = max(path.stat().st_size, 1)
    stream: IO[str] = io.TextIOWrapper(raw, encoding=encoding, newline="", errors="strict")
    reader = csv.reader(stream)
    try:
        header = [_cell(c) for c in next(reader, [])]
    except (UnicodeDecodeError, csv.Error) as exc:
        stream.close()
        raise FileUnreadable(str(exc)) from exc

    def rows() -> Iterator[list[str]]:
        try:
            for record in reader:
                yield [_cell(c) for c in record]
        except UnicodeDecodeError as exc:
            raise FileUnreadable(f"not {encoding} after line {reader.line_num}") from exc
        except csv.Error as exc:  # e.g. a field over the csv module's limit (128 KiB)
            raise FileUnreadable(f"line {reader.line_num}: {exc}") from exc
        finally:
            stream.close()

    def fraction() -> float | None:
        if raw.closed:
            return 1.0  # read to the end
        try:
            return min(1.0, raw.tell() / size)
        except (OSError, ValueError):
            return None

    return Table(header, _numbered(rows()), encoding, fraction)


def _open_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip or XML errors: not a workbook
        raise FileUnreadable(str(exc)) from exc
    # The sheet is parsed while it is read: broken XML or zip data in it, or a workbook
    # without a worksheet, only shows here (any error: the file is not readable).
    try:
        sheet = book.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = [_cell(c) for c in next(values, ())]
    except Exception as exc:
        book.close()
        raise FileUnreadable(str(exc) or type(exc).__name__) from exc

    def rows() -> Iterator[list[str]]:
        try:
            for record in values:
                yield [_cell(c) for c in record]
        except Exception as exc:
            raise FileUnreadable(f"broken sheet: {str(exc) or type(exc).__name__}") from exc
        finally:
            book.close()

    total = sheet.max_row or 0  # from the sheet's <dimension>, when the writer set it
    numbered = _numbered(rows())
    seen = [0]

    def counted() -> Iterator[tuple[int, list[str]]]:
        for line, cells in numbered:
            seen[0] = line
            yield line, cells

    def fraction() -> float | None:
        return min(1.0, seen[0] / total) if total > 1 else None

    return Table(header, counted(), "xlsx", fraction)


def table_open(path: Path) -> Table:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _open_xlsx(path)
    if suffix == ".csv":
        return _open_csv(path)
    raise FileUnreadable(f"unsupported file type {suffix or '(none)'}: use .csv or .xlsx")
