"""What an import found and did: bad rows (line, column, Chinese reason) and the counts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portal.exports import cell_escape


@dataclass(frozen=True)
class RowError:
    line: int  # the header is line 1
    column: str
    reason: str


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    moved: int = 0
    deactivated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False

    @property
    def summary(self) -> str:
        """The last line the command prints (a contract)."""
        return (
            f"created={self.created} updated={self.updated} moved={self.moved} "
            f"deactivated={self.deactivated} unchanged={self.unchanged} errors={len(self.errors)}"
        )

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "moved": self.moved,
            "deactivated": self.deactivated,
            "unchanged": self.unchanged,
            "errors": len(self.errors),
        }


REPORT_HEADER = ("行号", "列", "原因")


def report_csv(rows: Iterable[tuple[int, str, str] | list[Any]]) -> bytes:
    """Bad rows ``(line, column, reason)`` as CSV (UTF-8 with BOM, so Excel opens it), cells
    escaped; the command's ``--report`` and the admin's download."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_HEADER)
    for line, column, reason in rows:
        writer.writerow([line, cell_escape(column), cell_escape(reason)])
    return out.getvalue().encode("utf-8-sig")


def report_write(*, errors: list[RowError], path: Path) -> None:
    ordered = sorted(errors, key=lambda e: (e.line, e.column))
    path.write_bytes(report_csv((e.line, e.column, e.reason) for e in ordered))
