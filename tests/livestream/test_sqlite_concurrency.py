"""The embedded default (SQLite) under concurrent moderation: writers wait, nobody is told
their request was not understood.

A real daphne runs on a SQLite file with the embedded settings (no Redis); five moderators'
sockets toggle the highlight of their own question eight times each, as fast as they can
(40 writes racing). Every toggle must reach every socket as ``question.updated``, and no
socket may get an ``error`` frame: SQLite transactions start ``IMMEDIATE`` with a busy
timeout (portal/settings.py), and a failure that is not the user's fault would be the
retryable ``busy`` code, never ``invalid``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.livestream.servers import daphne, embedded_env, run_python

pytestmark = pytest.mark.slow

MODERATORS = 5
TOGGLES = 8

# Runs in a child process on the SQLite file: the lecture, five named moderators with a
# published question each, and their session cookies.
SETUP = """
import json
from datetime import timedelta

import django

django.setup()
from django.test import Client
from django.utils import timezone

from livestream.models import Question
from tests.factories import LectureFactory, ProgrammeFactory, UserFactory, unit_create

unit = unit_create(name="浙江省", kind="province", code="330000000000")
programme = ProgrammeFactory(organiser_unit=unit, audience=[unit], is_published=True)
lecture = LectureFactory(
    programme=programme, sequence=1, starts_at=timezone.now() - timedelta(minutes=5),
    duration_minutes=90,
)
out = {"lecture": lecture.pk, "moderators": []}
for i in range(%(n)d):
    user = UserFactory(username=f"mod{i}", unit=unit)
    lecture.moderators.add(user)
    question = Question.objects.create(
        lecture=lecture, author=user, text=f"问题 {i}", status=Question.Status.APPROVED
    )
    client = Client()
    client.force_login(user)
    out["moderators"].append(
        {"cookie": client.cookies["sessionid"].value, "question": question.pk}
    )
print(json.dumps(out))
"""


async def _moderator(port: int, lecture_id: int, cookie: str, question_id: int) -> Any:
    return await connect(
        f"ws://127.0.0.1:{port}/ws/lectures/{lecture_id}/",
        additional_headers={
            "Cookie": f"sessionid={cookie}",
            "Origin": f"http://127.0.0.1:{port}",
        },
    )


async def _collect(conn: Any, want: int) -> tuple[int, list[dict[str, Any]]]:
    """Read until ``want`` question.updated frames arrived; (updates, error frames)."""
    updates, errors = 0, []
    while updates < want:
        frame = json.loads(await asyncio.wait_for(conn.recv(), 30))
        if frame["type"] == "question.updated":
            updates += 1
        elif frame["type"] == "error":
            errors.append(frame)
            want -= 1  # that toggle will not be broadcast
    return updates, errors


def test_concurrent_moderation_on_sqlite_waits_instead_of_failing(tmp_path: Path) -> None:
    database = tmp_path / "embedded.sqlite3"
    env = embedded_env(database)
    run_python(env, "manage.py", "migrate", "--noinput", "-v", "0")
    setup_env = {**env, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    world = json.loads(
        run_python(setup_env, "-c", SETUP % {"n": MODERATORS}).strip().splitlines()[-1]
    )
    lecture_id = world["lecture"]

    async def scenario(port: int) -> list[tuple[int, list[dict[str, Any]]]]:
        conns = [
            await _moderator(port, lecture_id, m["cookie"], m["question"])
            for m in world["moderators"]
        ]
        for conn in conns:  # the state snapshot first
            assert json.loads(await asyncio.wait_for(conn.recv(), 10))["type"] == "state"

        async def toggle(conn: Any, question_id: int) -> None:
            for i in range(TOGGLES):
                action = "highlight" if i % 2 == 0 else "unhighlight"
                await conn.send(
                    json.dumps(
                        {"type": "question.moderate", "question_id": question_id, "action": action}
                    )
                )

        readers = [asyncio.create_task(_collect(c, MODERATORS * TOGGLES)) for c in conns]
        await asyncio.gather(
            *(toggle(c, m["question"]) for c, m in zip(conns, world["moderators"], strict=True))
        )
        results = await asyncio.gather(*readers)
        for conn in conns:
            await conn.close()
        return results

    with daphne(env, log=tmp_path / "daphne.log") as port:
        results = asyncio.run(scenario(port))

    log = (tmp_path / "daphne.log").read_text()
    errors = [e for _updates, errs in results for e in errs]
    assert not [e for e in errors if e.get("code") == "invalid"], errors
    assert not errors, errors  # IMMEDIATE + busy timeout: every writer waited its turn
    assert [updates for updates, _errs in results] == [MODERATORS * TOGGLES] * MODERATORS
    assert "database is locked" not in log, log[-3000:]
