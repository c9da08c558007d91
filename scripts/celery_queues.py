"""Print the comma-separated Celery queues a worker must consume (``-Q``).

The default queue, every queue named in ``CELERY_TASK_ROUTES`` / ``CELERY_TASK_QUEUES`` and,
with ``NOTIFY_QUEUE_PER_CHANNEL``, ``notify.<channel>`` for each notification channel,
so a new per-provider queue is picked up by ``make run`` and the compose worker without
editing their command lines. ``CELERY_QUEUES`` in the environment overrides it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def celery_queues() -> list[str]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.conf import settings

    queues = {str(getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery"))}
    routes = getattr(settings, "CELERY_TASK_ROUTES", None) or {}
    if isinstance(routes, dict):
        for route in routes.values():
            if isinstance(route, dict) and route.get("queue"):
                queues.add(str(route["queue"]))
    for queue in getattr(settings, "CELERY_TASK_QUEUES", None) or []:
        queues.add(str(getattr(queue, "name", queue)))
    # notifications.tasks.dispatch_kick sends to notify.<channel> when this is on.
    if getattr(settings, "NOTIFY_QUEUE_PER_CHANNEL", False):
        for channel in ["inbox", *getattr(settings, "NOTIFY_CHANNELS", [])]:
            queues.add(f"notify.{channel}")
    return sorted(queues)


def main() -> int:
    override = os.environ.get("CELERY_QUEUES", "").strip()
    if override:
        print(override)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(",".join(celery_queues()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
