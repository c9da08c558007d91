"""``manage.py import_directory --kind units|cadres FILE [--dry-run] [--deactivate-missing]
[--report BAD.csv]`` (a contract: operators and tests rely on it)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from directory.report import report_write
from directory.services import KINDS, directory_import


class Command(BaseCommand):
    help = "Import the units or the cadres of the directory from a .csv or .xlsx file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=KINDS, required=True)
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check and count, apply nothing")
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="deactivate cadres of the file's units that the file no longer lists",
        )
        parser.add_argument("--report", type=Path, help="write the bad rows to this CSV")

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate(settings.LANGUAGE_CODE)  # reasons in Chinese
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        started = time.monotonic()
        tty = sys.stderr.isatty()

        def progress(rows: int, fraction: float | None) -> None:
            if not tty:
                return
            elapsed = max(time.monotonic() - started, 1e-6)
            line = f"\r{rows:>9,} rows  {rows / elapsed:>9,.0f} rows/s"
            if fraction:
                eta = elapsed * (1 - fraction) / fraction
                line += f"  {fraction:>4.0%}  ETA {eta:>4.0f} s"
            sys.stderr.write(line)
            sys.stderr.flush()

        result = directory_import(
            kind=options["kind"],
            path=path,
            dry_run=options["dry_run"],
            deactivate_missing=options["deactivate_missing"],
            progress=progress,
        )
        if tty:
            sys.stderr.write("\n")
        for error in result.errors[:50]:
            self.stdout.write(f"第{error.line}行 {error.column}: {error.reason}")
        if len(result.errors) > 50:
            self.stdout.write(f"… {len(result.errors) - 50} more")
        if options["report"]:
            report_write(errors=result.errors, path=options["report"])
        seconds = time.monotonic() - started
        state = (
            "applied" if result.applied else ("dry run" if options["dry_run"] else "not applied")
        )
        self.stdout.write(f"{result.rows} rows in {seconds:.1f} s ({state})")
        self.stdout.write(result.summary)  # the last line (a contract)
        if result.errors:
            raise SystemExit(1)
