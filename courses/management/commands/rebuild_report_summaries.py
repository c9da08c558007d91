"""``manage.py rebuild_report_summaries [--programme ID ...]``: recount the report summaries.

The summaries (``courses/summaries.py``) are kept up to date incrementally; this is the
repair: it recomputes them from the raw attendance and enrolment rows, for the given
programmes or all of them, and resets every row's snapshot. Attendance and enrolment writes
wait while it runs. Run it after moving a unit to another parent, or after writing attendance
or enrolments past the services (raw SQL, a restore).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from courses.models import Programme
from courses.summaries.rebuild import summaries_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the attendance and enrolment report summaries from raw rows "
        "(all programmes, or those given with --programme)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--programme",
            type=int,
            action="append",
            dest="programmes",
            metavar="ID",
            help="A programme to rebuild (repeat for several); default: every programme.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wanted: list[int] | None = options["programmes"]
        if wanted is not None:
            found = set(Programme.objects.filter(pk__in=wanted).values_list("pk", flat=True))
            missing = sorted(set(wanted) - found)
            if missing:
                raise CommandError(f"No programme with id {', '.join(map(str, missing))}.")
        result = summaries_rebuild(programme_ids=wanted)
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt the report summaries of {result.programmes} programme(s) and "
                f"{result.lectures} lecture(s): {result.lecture_rows} lecture-unit rows, "
                f"{result.programme_rows} programme-unit rows in {result.seconds:.1f} s."
            )
        )
