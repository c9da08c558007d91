"""Live-room fixtures: an in-memory store per test, websocket helpers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from courses.models import Lecture, Programme
from courses.services import enrolment_create
from livestream.routing import websocket_urlpatterns
from portal.models import Role, User
from tests.factories import LectureFactory, RoleFactory, UserFactory

ws_app = URLRouter(websocket_urlpatterns)


@pytest.fixture(autouse=True)
def live_settings(settings: Any) -> Any:
    settings.LIVE_REDIS_URL = ""
    settings.LIVE_REDIS_PREFIX = f"zxtest:{uuid.uuid4().hex[:8]}:"
    settings.LIVE_VOTES_INTERVAL_SECONDS = 0.3
    settings.LIVE_QUEUE_INTERVAL_SECONDS = 0.3
    settings.LIVE_VIEWERS_INTERVAL_SECONDS = 5.0
    return settings


@pytest.fixture
def viewer(cadre: User, programme: Programme) -> User:
    """The cadre, enrolled in the programme."""
    enrolment_create(user=cadre, programme=programme)
    return cadre


@pytest.fixture
def viewer2(tree: Any, programme: Programme) -> User:
    user = UserFactory(username="cadre2", full_name="王五", unit=tree.village)
    enrolment_create(user=user, programme=programme)
    return user


@pytest.fixture
def moderator(organiser: User) -> User:
    return organiser


@pytest.fixture
def other_lecture(tree: Any) -> Lecture:
    from tests.factories import ProgrammeFactory

    programme = ProgrammeFactory(organiser_unit=tree.ningbo, audience=[tree.ningbo])
    return LectureFactory(programme=programme, sequence=1)


@pytest.fixture
def named_moderator(tree: Any, lecture: Lecture) -> User:
    user = UserFactory(username="host", full_name="主持人", unit=tree.haishu)
    lecture.moderators.add(user)
    return user


@pytest.fixture
def province_organiser(tree: Any) -> User:
    user = UserFactory(username="org-zj", full_name="省委组织部", unit=tree.province)
    RoleFactory(user=user, kind=Role.Kind.ORGANISER, unit=tree.province)
    return user


class Client:
    """A WebsocketCommunicator with protocol helpers."""

    def __init__(self, comm: WebsocketCommunicator) -> None:
        self.comm = comm
        self.state: dict[str, Any] = {}

    async def send(self, frame: dict[str, Any]) -> None:
        await self.comm.send_to(text_data=json.dumps(frame, ensure_ascii=False))

    async def send_raw(self, text: str | None = None, data: bytes | None = None) -> None:
        await self.comm.send_to(text_data=text, bytes_data=data)

    async def recv(self, timeout: float = 3) -> dict[str, Any]:
        out = await self.comm.receive_output(timeout)
        if out["type"] == "websocket.close":
            raise AssertionError(f"closed with {out.get('code')}")
        return json.loads(out["text"])

    async def until(self, kind: str, timeout: float = 3) -> dict[str, Any]:
        """The next frame of ``kind``, skipping the periodic counts (viewers, and the
        moderators' dashboard figures)."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame
            if frame["type"] not in ("viewers", "lecture.stats"):
                raise AssertionError(f"expected {kind}, got {frame}")

    async def find(self, kind: str, timeout: float = 3) -> dict[str, Any]:
        """The next frame of ``kind``, skipping any other."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame

    async def closed_with(self, timeout: float = 3) -> int | None:
        while True:
            out = await self.comm.receive_output(timeout)
            if out["type"] == "websocket.close":
                return out.get("code")

    async def silent(self, timeout: float = 0.3) -> bool:
        return await self.comm.receive_nothing(timeout)

    async def close(self) -> None:
        await self.comm.disconnect()


async def orm(fn: Any) -> Any:
    """Run ORM code from an async test in a worker thread (no stray connections)."""
    from livestream.consumers import run_sync

    return await run_sync(fn)


async def open_socket(user: Any, lecture_id: int, *, state: bool = True) -> Client:
    comm = WebsocketCommunicator(ws_app, f"/ws/lectures/{lecture_id}/")
    comm.scope["user"] = user
    connected, _sub = await comm.connect()
    assert connected
    client = Client(comm)
    if state:
        client.state = await client.until("state")
    return client
