"""Sign-in (username or phone), role-specific landing pages, profile, reports entry."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from courses.models import Lecture, Programme
from courses.services import enrolment_create
from portal.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "zhixing-demo"


def _login(client: Client, login: str, password: str = PASSWORD) -> object:
    return client.post(reverse("account_login"), {"login": login, "password": password})


def test_login_page_is_chinese(client: Client) -> None:
    body = client.get(reverse("account_login")).content.decode()
    assert "用户名或手机号码" in body
    assert 'lang="zh-hans"' in body


def test_cadre_signs_in_with_phone_and_lands_on_my_lectures(client: Client, cadre: User) -> None:
    response = _login(client, "13812345678")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response["Location"] == reverse("home")  # type: ignore[index]


def test_wrong_password_is_refused_in_chinese(client: Client, cadre: User) -> None:
    response = _login(client, "cadre1", "wrong")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "不正确" in response.content.decode()  # type: ignore[attr-defined]


def test_each_role_lands_on_its_home(client: Client, organiser: User, school_staff: User) -> None:
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    cases = {
        admin.username: reverse("admin:index"),
        organiser.username: reverse("admin:courses_programme_changelist"),
        school_staff.username: reverse("portal:reports"),
    }
    for username, target in cases.items():
        client.logout()
        response = _login(client, username)
        assert response["Location"] == target, username  # type: ignore[index]


def test_home_lists_my_live_and_upcoming_lectures(
    client: Client, cadre: User, programme: Programme, lecture: Lecture
) -> None:
    client.force_login(cadre)
    assert lecture.title not in client.get(reverse("home")).content.decode()
    enrolment_create(user=cadre, programme=programme)
    body = client.get(reverse("home")).content.decode()
    assert lecture.title in body
    assert "我的课程" in body


def test_profile_masks_the_phone(client: Client, cadre: User) -> None:
    client.force_login(cadre)
    body = client.get(reverse("portal:profile")).content.decode()
    assert "138****5678" in body
    assert "13812345678" not in body
    assert "浙江省 › 杭州市 › 西湖区 › 灵隐街道" in body


def test_reports_entry_is_for_staff_only(
    client: Client, cadre: User, school_staff: User, programme: Programme
) -> None:
    client.force_login(cadre)
    assert client.get(reverse("portal:reports")).status_code == 403
    client.force_login(school_staff)
    response = client.get(reverse("portal:reports"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "西湖区" in body
    assert programme.title in body


def test_sign_out_is_post_only(client: Client, cadre: User) -> None:
    client.force_login(cadre)
    client.post(reverse("account_logout"))
    assert client.get(reverse("home")).status_code == 302


def test_signup_is_closed(client: Client) -> None:
    response = client.get(reverse("account_signup"))
    assert response.status_code in (200, 302)
    assert User.objects.count() == 0
