"""``python manage.py attendance_report``: the attendance report on the command line.

    python manage.py attendance_report (--lecture ID | --programme ID) --unit CODE
        --format csv|xlsx|table [--as-user USERNAME] [--output FILE]
        [--view units|cadres] [--level KIND] [--sort [-]COLUMN]

The same table as the web page (``courses.reports.attendance``). With ``--as-user`` the same scope
rules apply as on the web: a unit outside that user's area is refused. Every run is written
to the audit log (user or none, parameters, row count, ``via: cli``).
"""

from __future__ import annotations

import io
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from courses.reports import attendance as reports
from courses.reports import request as report_request
from portal.exports import export_write
from portal.models import User


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, aligned for Chinese (double-width) characters."""
    cells = [[str(h) for h in headers], *[[str(v) for v in row] for row in rows]]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        out = []
        for i, value in enumerate(row):
            pad = " " * (widths[i] - _width(value))
            out.append(value + pad if i == 0 else pad + value)
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])]) + "\n"


class TextOut(io.RawIOBase):
    """Bytes in, text out: the CSV writer's UTF-8 chunks (each whole characters)."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self.stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.stream.write(bytes(data).decode("utf-8"), ending="")
        return len(data)


class Command(BaseCommand):
    help = "Print or export the attendance report of a lecture or a programme for one unit."

    def add_arguments(self, parser: CommandParser) -> None:
        subject = parser.add_mutually_exclusive_group(required=True)
        subject.add_argument("--lecture", help="lecture id")
        subject.add_argument("--programme", help="programme id (the whole programme)")
        parser.add_argument("--unit", required=True, help="12-digit unit code (or pk:<id>)")
        parser.add_argument("--format", required=True, choices=("csv", "xlsx", "table"))
        parser.add_argument("--as-user", help="apply this user's scope (username)")
        parser.add_argument("--output", help="file to write (default: stdout; xlsx: a file)")
        parser.add_argument(
            "--view", choices=report_request.VIEWS, help="units (default) or cadres"
        )
        parser.add_argument("--level", help="rows for the units of this level below the unit")
        parser.add_argument("--sort", help="column key, '-' in front for descending")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options["as_user"])
        params = {
            key: str(options[key])
            for key in ("lecture", "programme", "unit", "view", "level", "sort")
            if options.get(key)
        }
        fmt = options["format"]
        try:
            request = report_request.report_request_parse(
                user=user, params=params, formats=("html",)
            )
            if request.programme is None:
                raise CommandError("没有可统计的专题培训。")
            export = reports.report_export_build(request=request)
        except report_request.ReportError as error:
            raise CommandError(f"400 {error.code}: {error.message}") from error
        except PermissionDenied as error:
            who = options["as_user"]
            raise CommandError(
                f"403: 用户 {who} 无权查看该单位的报表（不在其管理范围内）。{error}"
            ) from error
        except Http404 as error:
            raise CommandError(f"404: 课程、专题培训或单位不存在。{error}") from error

        output = options["output"]
        if fmt == "table":
            text = text_table(export.headers, list(export.rows))
            if output and output != "-":
                Path(output).write_text(text, encoding="utf-8")
            else:
                self.stdout.write(text, ending="")
        else:
            if not output and fmt == "xlsx":
                output = f"{export.filename}.xlsx"
            if output and output != "-":
                with open(output, "wb") as handle:
                    export_write(fmt=fmt, out=handle, headers=export.headers, rows=export.rows)
                self.stderr.write(f"{export.row_count} rows → {output}")
            elif fmt == "csv":  # text: through self.stdout (works with call_command too)
                out = TextOut(self.stdout)
                export_write(fmt=fmt, out=out, headers=export.headers, rows=export.rows)
            else:
                export_write(
                    fmt=fmt, out=sys.stdout.buffer, headers=export.headers, rows=export.rows
                )
                sys.stdout.buffer.flush()
        reports.report_export_audit(request=request, fmt=fmt, row_count=export.row_count, via="cli")

    def _user(self, username: str | None) -> User:
        if not username:
            # The operator on the server: the whole tree, audited without a user.
            return User(username="(cli)", is_superuser=True, is_active=True)
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist as exc:
            raise CommandError(f"用户 {username} 不存在。") from exc
