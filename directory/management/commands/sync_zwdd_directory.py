"""``manage.py sync_zwdd_directory [--dry-run]``: take the units and cadres from the 浙政钉
directory (the beat task runs the same nightly when ZWDD_DIRECTORY_SYNC is on)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from directory.zwdd.sync import SyncNotConfigured, directory_sync_zwdd
from portal.zwdd import GatewayError


class Command(BaseCommand):
    help = "Sync the units and cadres from the 浙政钉 organisation directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="walk and check, report what would change"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate(settings.LANGUAGE_CODE)  # reasons in Chinese
        started = time.monotonic()
        try:
            result = directory_sync_zwdd(dry_run=options["dry_run"])
        except SyncNotConfigured as exc:
            raise CommandError(
                "set ZWDD_API_BASE, ZWDD_APP_KEY, ZWDD_APP_SECRET and ZWDD_TENANT_ID"
            ) from exc
        except GatewayError as exc:
            raise CommandError(f"the 浙政钉 directory could not be read: {exc}") from exc
        for problem in result.problems[:50]:
            self.stdout.write(f"{problem.what} {problem.column}: {problem.reason}")
        if len(result.problems) > 50:
            self.stdout.write(f"… {len(result.problems) - 50} more")
        state = (
            "applied" if result.applied else ("dry run" if options["dry_run"] else "not applied")
        )
        self.stdout.write(
            f"{result.organizations} organisations, {result.employees} employees, "
            f"{result.calls} calls in {time.monotonic() - started:.1f} s ({state})"
        )
        self.stdout.write(f"units: {result.units.summary}")
        self.stdout.write(f"cadres: {result.cadres.summary}")
        if result.problems:
            raise SystemExit(1)
