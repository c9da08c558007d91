"""The Django admin login is rate-limited and locks a username / IP after repeated failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from portal.models import AuditLog, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-9"


@pytest.fixture(autouse=True)
def limits(settings: SettingsWrapper) -> Iterator[None]:
    settings.LANGUAGE_CODE = "zh-hans"
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_IP_LIMIT = 5
    settings.LOGIN_LOCKOUT_SECONDS = 600
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff(db: None) -> User:
    user = UserFactory(username="boss", is_staff=True, is_superuser=True, unit=None)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


def _login(client: Client, username: str, password: str, ip: str = "10.0.0.1") -> str:
    response = client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )
    if response.status_code == 302:
        return "ok"
    assert response.status_code == 200
    return response.content.decode()


def test_correct_password_signs_in_and_clears_earlier_failures(client: Client, staff: User) -> None:
    for _ in range(2):
        assert "ok" != _login(client, "boss", "wrong")
    assert _login(client, "boss", PASSWORD) == "ok"
    client.logout()
    for _ in range(2):  # the counter started again
        assert "锁定" not in _login(client, "boss", "wrong")
    assert _login(client, "boss", PASSWORD) == "ok"


def test_username_is_locked_after_the_limit_even_with_the_right_password(
    client: Client, staff: User
) -> None:
    for _ in range(2):
        body = _login(client, "boss", "wrong")
        assert "锁定" not in body
    body = _login(client, "boss", "wrong")
    assert "登录失败次数过多" in body and "10 分钟" in body
    # from another address and with the right password: still locked, no password check
    body = _login(client, "boss", PASSWORD, ip="10.0.0.2")
    assert "登录失败次数过多" in body
    assert "_auth_user_id" not in client.session
    entry = AuditLog.objects.get(action="admin.login_locked")
    assert entry.target.startswith("user:boss")
    assert entry.detail["failures"] == 3
    assert entry.detail["ip"] == "10.0.0.1"
    # the lockout is logged once, not on every refused attempt
    _login(client, "boss", "wrong")
    assert AuditLog.objects.filter(action="admin.login_locked").count() == 1


def test_lockout_expires(client: Client, staff: User) -> None:
    for _ in range(3):
        _login(client, "boss", "wrong")
    assert "登录失败次数过多" in _login(client, "boss", PASSWORD)
    cache.clear()  # what the timeout does after LOGIN_LOCKOUT_SECONDS
    assert _login(client, "boss", PASSWORD) == "ok"


def test_ip_is_locked_after_failures_across_usernames(client: Client, staff: User) -> None:
    for i in range(5):
        _login(client, f"guess{i}", "wrong", ip="10.9.9.9")
    assert AuditLog.objects.filter(action="admin.login_locked", target="ip:10.9.9.9").exists()
    assert "登录失败次数过多" in _login(client, "boss", PASSWORD, ip="10.9.9.9")
    # another address can still sign in with the right password
    assert _login(client, "boss", PASSWORD, ip="10.0.0.7") == "ok"


def test_usernames_are_counted_case_insensitively(client: Client, staff: User) -> None:
    for name in ("boss", "BOSS", "Boss"):
        _login(client, name, "wrong", ip="10.0.0.3")
    assert "登录失败次数过多" in _login(client, "boss", PASSWORD, ip="10.0.0.4")


def test_normal_failure_message_is_unchanged_below_the_limit(client: Client, staff: User) -> None:
    body = _login(client, "boss", "wrong")
    assert "errornote" in body
    assert "登录失败次数过多" not in body


def test_behind_a_proxy_the_client_address_is_counted_not_the_proxys(
    client: Client, staff: User, settings: SettingsWrapper
) -> None:
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    for i in range(5):  # five guessers behind the same nginx (REMOTE_ADDR 172.18.0.5)
        client.post(
            reverse("admin:login"),
            {"username": f"guess{i}", "password": "wrong"},
            REMOTE_ADDR="172.18.0.5",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
    assert not AuditLog.objects.filter(action="admin.login_locked").exists()
    response = client.post(
        reverse("admin:login"),
        {"username": "boss", "password": PASSWORD, "next": "/admin/"},
        REMOTE_ADDR="172.18.0.5",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 302
