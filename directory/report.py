"""What an import found and did: bad rows (line, column, Chinese reason) and the counts."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

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


def report_write(*, errors: list[RowError], path: Path) -> None:
    """The bad rows as CSV (UTF-8 with BOM, so Excel opens it), cells escaped."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(REPORT_HEADER)
        for error in sorted(errors, key=lambda e: (e.line, e.column)):
            writer.writerow([error.line, cell_escape(error.column), cell_escape(error.reason)])
