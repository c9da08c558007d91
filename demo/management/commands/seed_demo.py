"""``manage.py seed_demo [--cadres N] [--attendance [ended|all]] [--force]``: the demo world
(ARCHITECTURE.md §7.1, §7.2).

Idempotent: a second run adds nothing and moves the demo lectures so that they are laid out
relative to today again (some ended with replays, one live now, the rest upcoming).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.seed import DEMO_PASSWORD, SeedError, demo_seed

MAX_CADRES = 2_000_000


class Command(BaseCommand):
    help = (
        "Load the demo org tree (Zhejiang), demo accounts, generated cadres and the AI "
        "programme with its ten weekly lectures. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cadres",
            type=int,
            default=2000,
            help="How many generated cadres (gb000001 …) to create in total (default 2000).",
        )
        parser.add_argument(
            "--attendance",
            nargs="?",
            const="ended",
            choices=("ended", "all"),
            default=None,
            help="Also generate realistic attendance: '--attendance' (= ended) for the lectures "
            "that have ended and the live one so far; '--attendance all' for all ten, as if the "
            "programme had finished (for benchmarks). Rows already there are kept.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even when DEBUG is false (demo accounts have a published password).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        cadres: int = options["cadres"]
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "Refusing to load demo data with DEBUG=false: the demo accounts share a "
                "published password. Pass --force if you really want the demo here."
            )
        if not 0 <= cadres <= MAX_CADRES:
            raise CommandError(f"--cadres must be between 0 and {MAX_CADRES}, not {cadres}.")

        verbose = options["verbosity"] >= 2
        started = time.perf_counter()
        try:
            report = demo_seed(
                cadres=cadres,
                log=self.stdout.write if verbose else None,
                attendance=options["attendance"],
            )
        except SeedError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(f"The demo data did not validate: {exc.messages}") from exc
        elapsed = time.perf_counter() - started

        if report.codes_dropped:
            self.stderr.write(
                f"{len(report.codes_dropped)} administrative codes were already used by other "
                f"units; those demo units were created without a code "
                f"(e.g. {', '.join(report.codes_dropped[:5])})."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready in {elapsed:.1f} s: org units +{report.units_created} "
                f"(kept {report.units_existing}), cadres +{report.cadres_created} "
                f"(kept {report.cadres_existing}), enrolments +{report.enrolments_created}, "
                f"{report.lectures} lectures re-timed around now"
                + (
                    f", attendance +{report.attendance_created} "
                    f"({report.attendance_lectures} lectures)."
                    if options["attendance"]
                    else "."
                )
            )
        )
        self.stdout.write(
            f"Accounts admin / organiser / school / cadre / cadre2, password {DEMO_PASSWORD!r}."
        )
