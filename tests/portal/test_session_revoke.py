"""Deactivation ends every session of the user, on every device; signing out ends only
that device's (portal/sessions/revoke.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from portal.models import User, UserSession, user_sessions_ended

pytestmark = pytest.mark.django_db


def _open(client: Client) -> bool:
    return client.get("/me/study/").status_code == 200


def _sign_in(user: User) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": user.username, "password": "zhixing-demo"})
    assert response.status_code == 302
    return client


def test_deactivation_ends_all_sessions(
    cadre: User, django_capture_on_commit_callbacks: Any
) -> None:
    phone, desktop = _sign_in(cadre), _sign_in(cadre)
    assert UserSession.objects.filter(user=cadre).count() == 2
    received: list[dict[str, Any]] = []

    def _receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    user_sessions_ended.connect(_receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            user = User.objects.get(pk=cadre.pk)
            user.is_active = False
            user.save()
    finally:
        user_sessions_ended.disconnect(_receiver)
    assert not _open(phone) and not _open(desktop)
    assert not UserSession.objects.filter(user=cadre).exists()
    assert [(r["user_ids"], r["reason"]) for r in received] == [([cadre.pk], "deactivated")]


def test_sign_out_forgets_only_that_session(cadre: User) -> None:
    phone, desktop = _sign_in(cadre), _sign_in(cadre)
    phone.post("/accounts/logout/")
    assert UserSession.objects.filter(user=cadre).count() == 1
    assert _open(desktop) and not _open(phone)


def test_other_saves_end_nothing(cadre: User) -> None:
    client = _sign_in(cadre)
    user = User.objects.get(pk=cadre.pk)
    user.full_name = "张三丰"
    user.save()
    assert _open(client)


def test_rows_of_long_expired_sessions_are_dropped_at_the_next_sign_in(cadre: User) -> None:
    _sign_in(cadre)
    UserSession.objects.filter(user=cadre).update(created_at=timezone.now() - timedelta(days=30))
    _sign_in(cadre)
    assert UserSession.objects.filter(user=cadre).count() == 1
