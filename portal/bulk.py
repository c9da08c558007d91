"""Bulk loading with PostgreSQL's ``COPY … FROM STDIN``: the one place that writes COPY text.

``copy_rows`` streams rows (any iterable, consumed lazily) in COPY's text format with every
value escaped, so an address with a tab or a name with a backslash cannot shift columns, and
memory stays flat however many rows there are. The table is a model (its ``db_table``) or,
for a staging table, a plain identifier that is quoted here. Only PostgreSQL has COPY:
callers keep their portable path for the embedded default (``copy_supported``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Model
from psycopg2 import sql

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = r"\N"


def copy_supported() -> bool:
    """Is the default database one that takes COPY (PostgreSQL through psycopg2)?"""
    return connection.vendor == "postgresql"


def copy_value(value: object) -> str:
    """One value in COPY's text format (``None`` → ``\\N``; text escaped)."""
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot COPY a non-finite float: {value!r}")
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).translate(_ESCAPES)


class _Lines(io.TextIOBase):
    """A read-only text stream over generated lines, so COPY runs in flat memory."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._buffer = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        want = size if size is not None and size >= 0 else math.inf
        parts = [self._buffer]
        have = len(self._buffer)
        while have < want:
            line = next(self._lines, None)
            if line is None:
                break
            parts.append(line)
            have += len(line)
        text = "".join(parts)
        if want is math.inf:
            self._buffer = ""
            return text
        cut = int(want)
        self._buffer = text[cut:]
        return text[:cut]


def copy_rows(
    *,
    table: type[Model] | str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    cursor: Any = None,
) -> int:
    """``COPY table (columns) FROM STDIN`` with ``rows``; returns the number of rows sent.

    ``table`` is a model or the name of a (temporary) staging table. ``cursor`` is a Django
    cursor to reuse (e.g. inside the caller's transaction, after it created a TEMP table);
    by default one is opened on the default connection.
    """
    if not copy_supported():
        raise RuntimeError("COPY needs PostgreSQL; use the ORM path on other databases")
    if not columns:
        raise ValueError("copy_rows needs at least one column")
    name = table._meta.db_table if isinstance(table, type) else table
    width = len(columns)
    count = 0
    failure: list[Exception] = []

    def lines() -> Iterator[str]:
        nonlocal count
        try:
            for row in rows:
                if len(row) != width:
                    raise ValueError(f"row {count + 1} has {len(row)} values, expected {width}")
                count += 1
                yield "\t".join(map(copy_value, row)) + "\n"
        except Exception as exc:
            failure.append(exc)  # psycopg2 reports it as a cancelled COPY; keep the cause
            raise

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )

    def run(django_cursor: Any) -> None:
        raw = django_cursor.cursor  # psycopg2's cursor under Django's wrapper
        try:
            raw.copy_expert(statement.as_string(raw), _Lines(lines()))
        except Exception:
            if failure:
                raise failure[0] from None
            raise

    if cursor is not None:
        run(cursor)
    else:
        with connection.cursor() as own:
            run(own)
    return count
