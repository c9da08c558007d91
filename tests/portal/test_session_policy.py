"""Session rules by role (portal/sessions/policy.py): a cadre stays signed in for two weeks
whichever way they signed in; staff are signed out after 30 idle minutes and 8 hours at
most; signing out on one device leaves the others signed in. Both engines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from portal.models import User
from tests.conftest import Zwdd
from tests.fakes.providers import AliyunSmsFake

pytestmark = pytest.mark.django_db
TWO_WEEKS = 1_209_600


@pytest.fixture(params=["db", "cached_db"])
def engine(request: pytest.FixtureRequest, redis_url: str) -> Iterator[str]:
    """Without Redis (portal.sessions.db) and with it (portal.sessions on Redis)."""
    if request.param == "db":
        with override_settings(SESSION_ENGINE="portal.sessions.db"):
            yield "db"
        return
    caches = {
        "default": {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": redis_url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    with override_settings(CACHES=caches, SESSION_ENGINE="portal.sessions"):
        cache.clear()
        yield "cached_db"


@contextmanager
def _later(start: datetime, delta: timedelta) -> Iterator[None]:
    """Travel in time. Redis does not travel: a cached session copy lives at most
    SESSION_CACHE_SECONDS (300 s) of real time, so past that it is gone, as it would be."""
    with time_machine.travel(start + delta, tick=False):
        if delta.total_seconds() > settings.SESSION_CACHE_SECONDS:
            cache.clear()
        yield


def _password(client: Client, login: str) -> Any:
    return client.post("/accounts/login/", {"login": login, "password": "zhixing-demo"})


def _max_age(response: Any) -> int:
    return int(response.cookies["sessionid"]["max-age"])


def _home_is_open(client: Client) -> bool:
    """A signed-in page answers 200; signed out, it redirects to the sign-in page."""
    return client.get("/me/study/").status_code == 200


def test_a_cadre_stays_signed_in_for_two_weeks(engine: str, cadre: User) -> None:
    client = Client()
    response = _password(client, cadre.username)
    assert response.status_code == 302
    assert _max_age(response) >= TWO_WEEKS
    with _later(timezone.now(), timedelta(days=13)):
        assert _home_is_open(client)  # next week's lecture: no sign-in
    with _later(timezone.now(), timedelta(days=15)):
        assert not _home_is_open(client)


def test_cadre_cookie_lifetime_for_code_and_zwdd_sign_in(
    aliyun: AliyunSmsFake, zwdd_sso: Zwdd, zwdd_cadre: User
) -> None:
    cache.clear()
    client = Client()
    client.post("/accounts/login/code/", {"phone": zwdd_cadre.phone})
    code = json.loads(aliyun.sent[-1].text)["code"]
    assert _max_age(client.post("/accounts/login/code/confirm/", {"code": code})) >= TWO_WEEKS

    other = Client()
    start = other.post("/accounts/zwdd/login/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    done = other.get(
        "/accounts/zwdd/login/callback/",
        {"code": zwdd_sso.api.issue_code("10001"), "state": state},
    )
    assert done.status_code == 302 and _max_age(done) >= TWO_WEEKS


def test_staff_are_signed_out_after_30_idle_minutes(engine: str, organiser: User) -> None:
    client = Client()
    response = _password(client, organiser.username)
    assert response.status_code == 302 and _max_age(response) == 30 * 60
    start = timezone.now()
    with _later(start, timedelta(minutes=29)):
        assert _home_is_open(client)  # in use: the idle clock starts again
    with _later(start, timedelta(minutes=58)):
        assert _home_is_open(client)
    with _later(start, timedelta(minutes=89)):
        assert not _home_is_open(client)


def test_staff_are_signed_out_eight_hours_after_signing_in_however_active(
    engine: str, organiser: User
) -> None:
    client = Client()
    _password(client, organiser.username)
    start = timezone.now()
    for minutes in range(20, 8 * 60, 20):
        with _later(start, timedelta(minutes=minutes)):
            assert _home_is_open(client), minutes
    with _later(start, timedelta(hours=8, minutes=5)):
        assert not _home_is_open(client)


def test_signing_out_on_one_device_keeps_the_others(engine: str, cadre: User) -> None:
    phone, desktop = Client(), Client()
    _password(phone, cadre.username)
    _password(desktop, cadre.username)
    phone.post("/accounts/logout/")
    assert not _home_is_open(phone)
    assert _home_is_open(desktop)
