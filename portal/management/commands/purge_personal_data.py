"""``python manage.py purge_personal_data``: remove personal data past its retention
(portal/retention.py; also run daily by Celery beat). Prints ``name=N`` per kind."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.privacy import purge_personal_data


class Command(BaseCommand):
    help = "Remove personal data past its retention (audit log, sessions, deliveries, uploads)."

    def handle(self, *args: Any, **options: Any) -> None:
        removed = purge_personal_data()
        self.stdout.write(" ".join(f"{name}={count}" for name, count in removed.items()))
