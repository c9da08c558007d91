"""Discussion fixtures: an ended lecture of the programme, a township study group."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from courses.models import Lecture, Programme
from discussion import services
from discussion.models import StudyGroup
from discussion.routing import websocket_urlpatterns
from discussion.selectors import SpaceAccess, space_access_get
from portal.models import User
from tests.factories import LectureFactory
from tests.livestream.conftest import (  # noqa: F401  (the live room's fixtures)
    Client,
    live_settings,
    viewer,
    viewer2,
)

ws_app = URLRouter(websocket_urlpatterns)


@pytest.fixture
def ended_lecture(programme: Programme) -> Lecture:
    return LectureFactory(
        programme=programme, sequence=1, starts_at=timezone.now() - timedelta(hours=3)
    )


@pytest.fixture
def member(request: pytest.FixtureRequest) -> User:
    """A cadre of the township, enrolled (the live room's ``viewer``)."""
    user: User = request.getfixturevalue("viewer")
    return user


@pytest.fixture
def member2(request: pytest.FixtureRequest) -> User:
    """A second cadre below the township (王五, in its village)."""
    user: User = request.getfixturevalue("viewer2")
    return user


@pytest.fixture
def group(
    tree: Any,
    school_staff: User,
    programme: Programme,
    ended_lecture: Lecture,
    member: User,
    member2: User,
) -> StudyGroup:
    """The township's group (made by the county party school: both cadres join)."""
    return services.group_create(
        by=school_staff, programme=programme, unit=tree.lingyin, name="灵隐街道学习群"
    )


def access_of(user: User, group: StudyGroup) -> SpaceAccess:
    return space_access_get(user=user, space_id=group.space_id)


def lecture_thread(group: StudyGroup) -> Any:
    return group.space.threads.get(lecture__isnull=False)


async def socket_open(user: User, space_id: int) -> Client:
    comm = WebsocketCommunicator(ws_app, f"/ws/discussion/{space_id}/")
    comm.scope["user"] = user
    connected, _sub = await comm.connect()
    assert connected
    return Client(comm)
