"""Through the real ASGI stack: origin check, session cookie, AuthMiddlewareStack."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client as HttpClient

from portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def session_cookie(viewer) -> str:
    client = HttpClient()
    client.force_login(viewer)
    return client.cookies["sessionid"].value


def _comm(lecture_id: int, origin: bytes, cookie: str | None) -> WebsocketCommunicator:
    headers = [(b"host", b"127.0.0.1"), (b"origin", origin)]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, f"/ws/lectures/{lecture_id}/", headers=headers)


async def test_session_cookie_authenticates_the_socket(session_cookie, lecture):
    comm = _comm(lecture.pk, b"http://127.0.0.1", session_cookie)
    connected, _ = await comm.connect()
    assert connected
    state = await comm.receive_json_from(3)
    assert state["type"] == "state"
    assert state["role"] == "viewer"
    await comm.disconnect()


async def test_no_session_closes_4401(lecture):
    comm = _comm(lecture.pk, b"http://127.0.0.1", None)
    connected, _ = await comm.connect()
    assert connected
    out = await comm.receive_output(3)
    assert out == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()


async def test_foreign_origin_is_refused(session_cookie, lecture):
    comm = _comm(lecture.pk, b"https://evil.example.com", session_cookie)
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()
