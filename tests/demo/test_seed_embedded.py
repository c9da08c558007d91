"""The demo on the embedded default (SQLite, no Redis), as ``make run`` seeds it: the
notices that went out go through the portable outbox path (no COPY) and land in the inbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.livestream.servers import embedded_env, run_python

pytestmark = pytest.mark.slow

CHECK = """
import json

import django

django.setup()
from notifications.models import Delivery, InboxMessage, Reminder

print(json.dumps({
    "inbox": InboxMessage.objects.filter(user__username="cadre").count(),
    "done": Reminder.objects.filter(status="done").count(),
    "statuses": sorted(set(Delivery.objects.values_list("status", flat=True))),
    "rows": Delivery.objects.count(),
    "ids": Delivery.objects.exclude(provider_message_id="").count(),
}))
"""


def test_the_demo_notices_on_the_embedded_default(tmp_path: Path) -> None:
    env = {**embedded_env(tmp_path / "demo.sqlite3"), "DEBUG": "true"}
    run_python(env, "manage.py", "migrate", "--noinput", "-v", "0")
    run_python(env, "manage.py", "seed_demo", "--cadres", "60")
    first = json.loads(run_python(env, "-c", CHECK).strip().splitlines()[-1])
    assert first["inbox"] == 12  # 24 h and 1 h before the five ended lectures and the live one
    assert first["done"] == 12
    assert first["statuses"] == ["delivered"]
    assert first["ids"] == first["rows"] > 0  # every row kept its own provider message id

    run_python(env, "manage.py", "seed_demo", "--cadres", "60")  # idempotent
    assert json.loads(run_python(env, "-c", CHECK).strip().splitlines()[-1]) == first
