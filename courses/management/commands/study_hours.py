"""``python manage.py study_hours``: each cadre's 学时 of a calendar year (contract).

    python manage.py study_hours --year 2026 --unit CODE --format csv|xlsx|table
        [--below-target] [--as-user USERNAME] [--output FILE]

Every active user of the unit's subtree, in (unit, id) order, with the lectures completed
and the study hours earned that year across programmes, the annual target
(STUDY_HOURS_ANNUAL_TARGET) and the shortfall: the same rows as the staff page
``/reports/study-hours/`` (``courses.reports.annual``). With ``--as-user`` that user's
report scope applies. Every run is audited (``via: cli``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from courses.management.commands.attendance_report import TextOut, text_table
from courses.reports.annual import (
    YEAR_MAX,
    YEAR_MIN,
    AnnualCells,
    annual_headers,
    annual_queryset,
    annual_rows,
)
from portal.exports import export_audit_write, export_filename, export_write
from portal.models import OrgUnit, User
from portal.scopes import Capability, unit_get_in_scope


class Command(BaseCommand):
    help = "Print or export each cadre's study hours of a calendar year for one unit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", required=True, type=int, help="calendar year, e.g. 2026")
        parser.add_argument("--unit", required=True, help="12-digit unit code (or pk:<id>)")
        parser.add_argument("--format", required=True, choices=("csv", "xlsx", "table"))
        parser.add_argument(
            "--below-target", action="store_true", help="only those below the annual target"
        )
        parser.add_argument("--as-user", help="apply this user's report scope (username)")
        parser.add_argument("--output", help="file to write (default: stdout; xlsx: a file)")

    def handle(self, *args: Any, **options: Any) -> None:
        year = int(options["year"])
        if not YEAR_MIN <= year <= YEAR_MAX:
            raise CommandError(f"400 invalid_year: 年份应在 {YEAR_MIN}–{YEAR_MAX} 之间。")
        unit = self._unit(options["unit"], options["as_user"])
        below = bool(options["below_target"])
        headers, cells = annual_headers(), AnnualCells()
        rows = (cells(r) for r in annual_rows(unit=unit, year=year, below_only=below))
        fmt, output = options["format"], options["output"]
        if fmt == "table":
            text = text_table(headers, list(rows))
            if output and output != "-":
                Path(output).write_text(text, encoding="utf-8")
            else:
                self.stdout.write(text, ending="")
        else:
            if not output and fmt == "xlsx":
                output = f"{export_filename('学时', unit.name, year)}.xlsx"
            if output and output != "-":
                with open(output, "wb") as handle:
                    export_write(fmt=fmt, out=handle, headers=headers, rows=rows)
                self.stderr.write(f"→ {output}")
            elif fmt == "csv":
                export_write(fmt=fmt, out=TextOut(self.stdout), headers=headers, rows=rows)
            else:
                export_write(fmt=fmt, out=sys.stdout.buffer, headers=headers, rows=rows)
                sys.stdout.buffer.flush()
        export_audit_write(
            user=self._actor,
            report="study_hours",
            target=f"unit:{unit.code or 'pk:' + str(unit.pk)}",
            fmt=fmt,
            row_count=annual_queryset(unit=unit, year=year, below_only=below).count(),
            params={"year": year, "below_target": below},
            via="cli",
        )

    _actor: User | None = None

    def _unit(self, code: str, username: str | None) -> OrgUnit:
        if username:
            try:
                self._actor = User.objects.get(username=username)
            except User.DoesNotExist as exc:
                raise CommandError(f"用户 {username} 不存在。") from exc
        # without --as-user: the operator on the server, the whole tree (audited without a
        # user), as attendance_report does
        user = self._actor or User(username="(cli)", is_superuser=True, is_active=True)
        try:
            return unit_get_in_scope(user=user, capability=Capability.READ_REPORTS, code=code)
        except PermissionDenied as exc:
            raise CommandError(
                f"403: 用户 {username} 无权查看该单位（不在其管理范围内）。"
            ) from exc
        except Http404 as exc:
            raise CommandError(f"404 unknown_unit: 单位 {code} 不存在。") from exc
