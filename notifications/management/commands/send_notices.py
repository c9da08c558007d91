"""``manage.py send_notices --lecture ID [--kind KIND] [--now] [--wait]``

Without ``--kind``: make sure the lecture has its default reminders and print the summary.
With ``--kind``: find (or create) that reminder; ``--now`` makes it due now and plans it in
this process; ``--wait`` also dispatches here until nothing is queued or in flight.
Exits 1 if any delivery ended ``failed`` (2 on bad input).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from courses.models import Lecture
from notifications import selectors, services
from notifications.exceptions import NotifyError
from notifications.models import Channel, Delivery, Reminder, ReminderKind


class Command(BaseCommand):
    help = "Send (or schedule) a lecture's notices and print delivery counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--lecture", type=int, required=True)
        parser.add_argument(
            "--kind",
            # A digest has no lecture: the discussion app makes it (digest_reminder_create).
            choices=[
                k.value for k in ReminderKind if k not in (ReminderKind.CUSTOM, ReminderKind.DIGEST)
            ],
        )
        parser.add_argument("--now", action="store_true", help="send now")
        parser.add_argument("--wait", action="store_true", help="dispatch here until done")
        parser.add_argument("--timeout", type=float, default=600.0)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            lecture = Lecture.objects.select_related("programme").get(pk=options["lecture"])
        except Lecture.DoesNotExist as exc:
            raise CommandError(f"no lecture {options['lecture']}", returncode=2) from exc
        kind = options["kind"]
        if kind is None:
            reminders = services.reminder_ensure_defaults(lecture=lecture)
        else:
            reminders = [self._reminder(lecture, kind, now=options["now"])]
        if options["now"] and kind is not None:
            reminder = reminders[0]
            services.reminder_send_now(reminder_id=reminder.pk)
            services.reminder_plan(reminder_id=reminder.pk)
            if options["wait"]:
                self._drain(timeout=options["timeout"])
            else:
                from notifications.tasks import dispatch_kick

                dispatch_kick()
        failed = 0
        for reminder in reminders:
            reminder.refresh_from_db()
            failed += self._summary(reminder)
        if failed:
            raise CommandError(f"{failed} deliveries failed", returncode=1)

    def _reminder(self, lecture: Lecture, kind: str, *, now: bool) -> Reminder:
        existing = (
            Reminder.objects.filter(lecture=lecture, kind=kind)
            .exclude(status=Reminder.Status.CANCELLED)
            .order_by("-created_at")
            .first()
        )
        if existing is not None:
            return existing
        if kind in (ReminderKind.REMINDER_24H, ReminderKind.REMINDER_1H) and not now:
            for reminder in services.reminder_ensure_defaults(lecture=lecture):
                if reminder.kind == kind:
                    return reminder
            raise CommandError(f"the {kind} reminder's time has passed; use --now", returncode=2)
        try:
            return services.reminder_create(
                lecture=lecture, kind=kind, due_at=timezone.now(), created_by=None
            )
        except NotifyError as exc:
            raise CommandError(exc.message, returncode=2) from exc

    def _drain(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        channels = [Channel.INBOX.value, *self._enabled()]
        while time.monotonic() < deadline:
            for channel in channels:
                services.delivery_dispatch(channel=channel, time_budget=30)
            services.delivery_sweep()
            for channel in self._enabled():
                services.receipt_poll(channel=channel, time_budget=5)
            pending = Delivery.objects.filter(
                status__in=(Delivery.Status.QUEUED, Delivery.Status.SENDING)
            ).exclude(channel__in=self._paused())
            if not pending.exists():
                return
            time.sleep(0.5)
        self.stderr.write("timed out waiting for the queue to drain")

    def _enabled(self) -> list[str]:
        from django.conf import settings

        return list(settings.NOTIFY_CHANNELS)

    def _paused(self) -> list[str]:
        from notifications.models import ChannelState

        return list(ChannelState.objects.filter(paused=True).values_list("channel", flat=True))

    def _summary(self, reminder: Reminder) -> int:
        counts = selectors.reminder_counts(reminder_id=reminder.pk)
        due = timezone.localtime(reminder.due_at)
        self.stdout.write(
            f"reminder {reminder.pk} {reminder.kind} due {due:%Y-%m-%d %H:%M} "
            f"status {reminder.status} recipients {reminder.recipients}"
        )
        failed = 0
        for channel, states in sorted(counts.items()):
            parts = " ".join(f"{s}={n}" for s, n in sorted(states.items()))
            self.stdout.write(f"  {channel:9s} {parts}")
            failed += states.get(Delivery.Status.FAILED, 0)
        paused = self._paused()
        if paused:
            self.stdout.write(f"  paused channels: {', '.join(paused)}")
        return failed
