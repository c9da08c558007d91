"""``manage.py demo_audience N [--url URL] [--lecture ID] [--vote-every S] [--duration S]``:
N simulated cadres in the live room (``make run AUDIENCE=N`` starts it beside daphne).
Runs until Ctrl-C / SIGTERM, or ``--duration`` seconds; then prints what it saw as JSON."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.audience import AudienceError, audience_lecture, audience_run, audience_sessions

MAX_AUDIENCE = 2_000


class Command(BaseCommand):
    help = "Start a small simulated audience in the demo's live lecture (heartbeats, votes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int, help=f"Simulated viewers (1–{MAX_AUDIENCE}).")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The portal's URL.")
        parser.add_argument("--lecture", type=int, default=None, help="Default: the live demo one.")
        parser.add_argument(
            "--vote-every",
            type=float,
            default=60.0,
            help="Each viewer votes about this often, in seconds (0: never; default 60).",
        )
        parser.add_argument("--duration", type=float, default=None, help="Stop after S seconds.")
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is false.")

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["count"]
        if not 1 <= count <= MAX_AUDIENCE:
            raise CommandError(f"count must be between 1 and {MAX_AUDIENCE}, not {count}.")
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "Refusing to sign in simulated cadres with DEBUG=false (a demo tool). "
                "Pass --force if you really want it here."
            )
        try:
            lecture = audience_lecture(lecture_id=options["lecture"])
            keys = audience_sessions(lecture=lecture, count=count)
            self.stderr.write(
                f"{count} simulated viewers in lecture {lecture.pk} ({lecture.title}) "
                f"at {options['url']}; Ctrl-C stops them."
            )
            report = asyncio.run(
                audience_run(
                    base_url=options["url"],
                    lecture_id=lecture.pk,
                    session_keys=keys,
                    vote_every=options["vote_every"],
                    duration=options["duration"],
                )
            )
        except AudienceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
