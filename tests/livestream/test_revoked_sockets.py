"""Deactivating a user (or changing their password) closes their open live sockets with
4401 within a hub tick; other viewers stay connected."""

from __future__ import annotations

import time
from typing import Any

import pytest

from courses.models import Lecture
from portal.models import User
from tests.livestream.conftest import Client, open_socket, orm

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _still_open(client: Client, seconds: float) -> bool:
    """No close frame for ``seconds`` (periodic frames may arrive; a receive timeout
    would cancel the application, so wait with ``receive_nothing``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await client.comm.receive_nothing(0.1):
            continue
        out = await client.comm.receive_output(1)
        if out["type"] == "websocket.close":
            return False
    return True


@pytest.mark.parametrize("change", ["deactivate", "password"])
async def test_the_users_sockets_close_with_4401(
    live_settings: Any, viewer: User, viewer2: User, lecture: Lecture, change: str
) -> None:
    live_settings.LIVE_VIEWERS_INTERVAL_SECONDS = 0.2
    mine = await open_socket(viewer, lecture.pk)
    other = await open_socket(viewer2, lecture.pk)

    def _change() -> None:
        user = User.objects.get(pk=viewer.pk)
        if change == "deactivate":
            user.is_active = False
        else:
            user.set_password("a-new-password-2026")
        user.save()

    started = time.monotonic()
    await orm(_change)
    assert await mine.closed_with(timeout=5) == 4401
    assert time.monotonic() - started < 2.0  # within a tick or two
    assert await _still_open(other, 0.8)
    await other.close()
