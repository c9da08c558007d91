"""Sessions in Redis with the database as the source of truth (portal/sessions.py) on the
soft-failing cache (portal/cache.py): a cache hit costs no query, and a Redis that is down
or restarting costs a query, never a failed sign-in, page or sign-out."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import redis
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from portal.models import User
from portal.sessions import SessionStore

pytestmark = pytest.mark.django_db


def _cache(url: str) -> dict[str, Any]:
    return {
        "CACHES": {
            "default": {
                "BACKEND": "portal.cache.ResilientRedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
            }
        },
        "SESSION_ENGINE": "portal.sessions",
    }


def _down() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_a_cached_session_is_read_without_a_query(
    redis_url: str, django_assert_num_queries: Any
) -> None:
    with override_settings(**_cache(redis_url), SESSION_CACHE_SECONDS=300):
        session = SessionStore()
        session["k"] = "v"
        session.create()
        with django_assert_num_queries(0):
            assert SessionStore(session.session_key).load() == {"k": "v"}
        client: Any = redis.Redis.from_url(redis_url)
        ttl = int(client.ttl(f":1:zx.session.{session.session_key}"))
        assert 0 < ttl <= 300  # a cached copy outlives a missed delete by minutes at most


def test_sign_in_pages_and_sign_out_work_while_redis_is_down(cadre: User) -> None:
    client = Client()
    with override_settings(**_cache(_down())):
        response = client.post(
            reverse("account_login"), {"login": cadre.username, "password": "zhixing-demo"}
        )
        assert response.status_code == 302, response.content.decode()[:500]
        page = client.get(reverse("home"))
        assert page.status_code == 200 and cadre.full_name in page.content.decode()
        assert client.post(reverse("account_logout")).status_code == 302
        assert client.get(reverse("home")).status_code == 302  # signed out


def test_a_session_made_while_redis_was_down_is_read_when_it_is_back(
    cadre: User, redis_url: str
) -> None:
    client = Client()
    with override_settings(**_cache(_down())):
        client.post(reverse("account_login"), {"login": cadre.username, "password": "zhixing-demo"})
    with override_settings(**_cache(redis_url)):  # Redis back, empty: the row is there
        page = client.get(reverse("home"))
        assert page.status_code == 200 and cadre.full_name in page.content.decode()
