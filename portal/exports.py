"""Spreadsheet exports (CSV and XLSX) shared by every report.

The public API is small and stable (other report modules import it):

``export_response(*, fmt, filename, headers, rows, sheet_title=None) -> HttpResponse``
    ``fmt`` is ``"csv"`` or ``"xlsx"`` (anything else raises ``ExportFormatError``);
    ``filename`` is the file name *without* extension, Chinese allowed (sent with RFC 5987
    ``filename*``); ``headers`` the column titles; ``rows`` any iterable of sequences, consumed
    lazily while the response streams (a 100k-row list stays flat in memory, under WSGI and
    under ASGI). Every text cell goes through ``cell_escape``.
``cell_escape(value) -> value``
    A text cell that a spreadsheet would read as a formula gets a leading ``'``.
``export_filename(*parts) -> str``
    Joins parts with ``-`` and strips characters that are unsafe in file names.
``export_audit_write(*, user, report, target, fmt, row_count, params) -> None``
    The audit-log entry every export writes (who, what, when, row count).
``EXPORT_FORMATS``
    ``("csv", "xlsx")``.

CSV starts with a UTF-8 BOM so Excel opens Chinese text correctly. XLSX is written with
openpyxl's write-only workbook (rows go to a temporary file, not into memory).
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any, Protocol, cast
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from django.utils import timezone

from portal.models import User

EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx")

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# What makes Excel, LibreOffice or Google Sheets treat a text cell as a formula (OWASP "CSV
# injection"), plus the full-width forms some spreadsheet IMEs turn into the ASCII ones.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_BATCH = 4  # chunks (≤ 64 KiB each) per thread hop when streaming to an ASGI server
_CHUNK = 64 * 1024


class BinaryWriter(Protocol):
    def write(self, data: bytes, /) -> Any: ...


class ExportFormatError(ValueError):
    """An export format other than those in ``EXPORT_FORMATS``."""


def cell_escape(value: Any) -> Any:
    """Neutralise a text cell a spreadsheet would evaluate; other values pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def export_filename(*parts: object) -> str:
    """``export_filename("出勤统计", "西湖区", "第3讲")`` → ``出勤统计-西湖区-第3讲``."""
    cleaned = [_UNSAFE_NAME.sub("_", str(p)).strip(" ._") for p in parts]
    return "-".join(p for p in cleaned if p)[:150] or "export"


def export_response(
    *,
    fmt: str,
    filename: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    sheet_title: str | None = None,
) -> StreamingHttpResponse:
    """A streaming download of ``headers`` + ``rows`` as CSV or XLSX."""
    if fmt == "csv":
        content: Iterator[bytes] = _csv_chunks(headers, rows)
    elif fmt == "xlsx":
        content = _xlsx_chunks(headers, rows, sheet_title or filename)
    else:
        raise ExportFormatError(fmt)
    response = _StreamingResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = content_disposition(f"{export_filename(filename)}.{fmt}")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` fallback and the UTF-8 ``filename*``
    (RFC 6266 / RFC 5987), so Chinese names survive in every current browser."""
    stem, _dot, ext = filename.rpartition(".")
    ascii_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_-.") or "export"
    return f"attachment; filename=\"{ascii_stem}.{ext}\"; filename*=UTF-8''{quote(filename)}"


def export_write(
    *, fmt: str, out: BinaryWriter, headers: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """The same bytes as ``export_response`` into a binary file (the CLI)."""
    chunks = _csv_chunks(headers, rows) if fmt == "csv" else None
    if fmt == "xlsx":
        chunks = _xlsx_chunks(headers, rows, "export")
    if chunks is None:
        raise ExportFormatError(fmt)
    for chunk in chunks:
        out.write(chunk)


def export_audit_write(
    *,
    user: User | None,
    report: str,
    target: str,
    fmt: str,
    row_count: int,
    params: dict[str, Any] | None = None,
    via: str = "web",
) -> None:
    """One audit-log row per export: ``report.export`` by ``user`` with the row count."""
    from portal.services import audit_log_write

    audit_log_write(
        user=user if user is not None and user.pk is not None else None,
        action=f"report.export.{report}"[:64],
        target=target,
        detail={
            "format": fmt,
            "rows": row_count,
            "via": via,
            "params": params or {},
        },
    )


# ---------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A cell value a writer accepts: numbers stay numbers, text is escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, date):
        return value
    return cell_escape(str(value))


class _Echo:
    """A file-like whose ``write`` returns what it is given (the csv docs' streaming trick)."""

    def write(self, value: str) -> str:
        return value


def _csv_chunks(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    writer = csv.writer(_Echo())
    yield ("\ufeff" + writer.writerow([cell_escape(h) for h in headers])).encode()
    buffer: list[str] = []
    size = 0
    for row in rows:
        line = writer.writerow([_csv_text(v) for v in row])
        buffer.append(line)
        size += len(line)
        if size >= _CHUNK:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def _csv_text(value: Any) -> Any:
    plain = _plain(value)
    if isinstance(plain, datetime):
        return plain.strftime("%Y-%m-%d %H:%M:%S")
    return plain


def _sheet_title(title: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "Sheet1"


def _xlsx_chunks(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str
) -> Iterator[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(title))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=cell_escape(str(header)))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    formats: dict[int, str] = {}
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v, formats) for v in row])
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while chunk := handle.read(_CHUNK):
            yield chunk


def _xlsx_cell(sheet: Any, value: Any, formats: dict[int, str]) -> Any:
    """A Decimal keeps its places on screen (``7.0`` stays ``7.0``, not ``7``)."""
    if isinstance(value, Decimal) and value.is_finite():
        from openpyxl.cell import WriteOnlyCell

        places = max(0, -int(value.as_tuple().exponent))
        if places not in formats:
            formats[places] = "0." + "0" * places if places else "0"
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = formats[places]
        return cell
    return _plain(value)


class _StreamingResponse(StreamingHttpResponse):
    """Streams a *sync* iterator lazily under both WSGI and ASGI.

    Django's ``StreamingHttpResponse`` serves a sync iterator under ASGI by reading it all
    into a list first; here the ASGI side pulls it in small batches through
    ``sync_to_async`` instead, so memory stays flat there too.
    """

    async def __aiter__(self) -> AsyncIterator[bytes]:
        iterator = iter(cast(Iterator[bytes], self.streaming_content))
        take: Callable[[], list[bytes]] = lambda: list(islice(iterator, _BATCH))  # noqa: E731
        while batch := await sync_to_async(take, thread_sensitive=True)():
            for part in batch:
                yield part
