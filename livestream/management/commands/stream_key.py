"""``python manage.py stream_key LECTURE_ID [--rotate]``: print the lecture's RTMP push URL
(contract, ARCHITECTURE.md §7.1): the origin's base URL and the lecture's secret key.
``--rotate`` issues a new key first (the old one stops working; audited)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from courses.models import Lecture
from livestream.streaming.services import stream_key_rotate, stream_push_url


class Command(BaseCommand):
    help = "Print a lecture's RTMP push URL (its secret stream key)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("lecture_id", type=int)
        parser.add_argument("--rotate", action="store_true", help="issue a new key first")

    def handle(self, *args: Any, **options: Any) -> None:
        lecture = Lecture.objects.filter(pk=options["lecture_id"]).first()
        if lecture is None:
            raise CommandError(f"no lecture {options['lecture_id']}")
        if options["rotate"]:
            stream_key_rotate(by=None, lecture=lecture)
        self.stdout.write(stream_push_url(lecture=lecture))
