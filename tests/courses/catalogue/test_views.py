"""Catalogue, programme and lecture pages and the enrol/withdraw actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from courses.models import Enrolment, Lecture, Programme
from portal.models import User
from tests.conftest import Tree
from tests.factories import LectureFactory, ProgrammeFactory, SpeakerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cadre_client(client: Client, cadre: User) -> Client:
    client.force_login(cadre)
    return client


@pytest.fixture
def ningbo_programme(tree: Tree) -> Programme:
    programme = ProgrammeFactory(
        title="宁波市数字经济专题", organiser_unit=tree.ningbo, audience=[tree.ningbo]
    )
    LectureFactory(programme=programme, sequence=1, title="宁波港口数字化")
    return programme


def test_pages_need_sign_in(client: Client, lecture: Lecture) -> None:
    for url in [
        reverse("home"),
        reverse("courses:catalogue"),
        reverse("courses:lecture", args=[lecture.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]


def test_catalogue_lists_only_programmes_open_to_the_user(
    cadre_client: Client, lecture: Lecture, ningbo_programme: Programme
) -> None:
    response = cadre_client.get(reverse("courses:catalogue"))
    assert response.status_code == 200
    body = response.content.decode()
    assert lecture.title in body
    assert "宁波港口数字化" not in body
    assert "课程目录" in body


def test_catalogue_filters_by_text_category_and_status(
    cadre_client: Client, programme: Programme
) -> None:
    speaker = SpeakerFactory(name="张亚勤")
    live = LectureFactory(
        programme=programme,
        sequence=1,
        title="人工智能新浪潮",
        starts_at=timezone.now() - timedelta(minutes=5),
        category="general",
    )
    live.speakers.add(speaker)
    LectureFactory(
        programme=programme,
        sequence=2,
        title="人形机器人产业",
        starts_at=timezone.now() + timedelta(days=7),
        category="application",
    )
    url = reverse("courses:catalogue")
    assert "人形机器人产业" not in cadre_client.get(url, {"q": "张亚勤"}).content.decode()
    assert "人工智能新浪潮" in cadre_client.get(url, {"q": "张亚勤"}).content.decode()
    body = cadre_client.get(url, {"category": "application"}).content.decode()
    assert "人形机器人产业" in body and "人工智能新浪潮" not in body
    body = cadre_client.get(url, {"status": "live"}).content.decode()
    assert "人工智能新浪潮" in body and "人形机器人产业" not in body


@pytest.mark.parametrize(
    "params",
    [
        {"category": "nope"},
        {"status": "<script>"},
        {"programme": "abc"},
        {"q": "x" * 500},
        {"page": "-1"},
        {"programme": "99999999999999999999"},
    ],
)
def test_catalogue_survives_malformed_query(
    cadre_client: Client, lecture: Lecture, params: dict[str, str]
) -> None:
    response = cadre_client.get(reverse("courses:catalogue"), params)
    assert response.status_code == 200


def test_catalogue_query_count_is_bounded(
    cadre_client: Client, programme: Programme, django_assert_max_num_queries: object
) -> None:
    for i in range(15):
        lecture = LectureFactory(
            programme=programme, sequence=i + 1, starts_at=timezone.now() + timedelta(days=7 * i)
        )
        lecture.speakers.add(SpeakerFactory())
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        assert cadre_client.get(reverse("courses:catalogue")).status_code == 200


def test_enrol_then_withdraw_through_the_pages(
    cadre_client: Client, cadre: User, programme: Programme, lecture: Lecture
) -> None:
    page = cadre_client.get(reverse("courses:programme", args=[programme.pk]))
    assert "报名" in page.content.decode()
    response = cadre_client.post(reverse("courses:enrol", args=[programme.pk]), follow=True)
    assert "您已成功报名" in response.content.decode()
    response = cadre_client.post(reverse("courses:enrol", args=[programme.pk]), follow=True)
    assert "您已报名过" in response.content.decode()
    assert Enrolment.objects.filter(user=cadre, status="active").count() == 1
    response = cadre_client.post(reverse("courses:withdraw", args=[programme.pk]), follow=True)
    assert "您已退出" in response.content.decode()
    response = cadre_client.post(reverse("courses:withdraw", args=[programme.pk]), follow=True)
    assert "您尚未报名" in response.content.decode()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/courses/", "/courses/"),
        ("//evil.example/", None),
        ("/\\evil.example/", None),
        ("https://evil.example/", None),
    ],
)
def test_enrol_returns_only_to_a_page_of_this_site(
    cadre_client: Client, programme: Programme, target: str, expected: str | None
) -> None:
    response = cadre_client.post(reverse("courses:enrol", args=[programme.pk]), {"next": target})
    assert response.status_code == 302
    assert response["Location"] == (expected or reverse("courses:programme", args=[programme.pk]))


def test_enrol_needs_post(cadre_client: Client, programme: Programme) -> None:
    assert cadre_client.get(reverse("courses:enrol", args=[programme.pk])).status_code == 405


def test_enrol_outside_audience_shows_chinese_error(
    client: Client, outsider: User, programme: Programme
) -> None:
    client.force_login(outsider)
    response = client.post(reverse("courses:enrol", args=[programme.pk]), follow=True)
    assert response.status_code == 200
    assert "不在培训对象范围内" in response.content.decode()
    assert not Enrolment.objects.exists()


def test_outsider_cannot_open_programme_or_lecture(
    client: Client, outsider: User, programme: Programme, lecture: Lecture
) -> None:
    client.force_login(outsider)
    response = client.get(reverse("courses:programme", args=[programme.pk]))
    assert response.status_code == 403
    assert "其他单位" in response.content.decode()
    assert client.get(reverse("courses:lecture", args=[lecture.pk])).status_code == 403
    assert client.get(reverse("courses:lecture", args=[999999])).status_code == 404


def test_city_organiser_cannot_open_another_citys_programme(
    client: Client, organiser: User, ningbo_programme: Programme, programme: Programme
) -> None:
    client.force_login(organiser)
    assert client.get(reverse("courses:programme", args=[programme.pk])).status_code == 200
    assert client.get(reverse("courses:programme", args=[ningbo_programme.pk])).status_code == 403
    lecture = ningbo_programme.lectures.get()
    assert client.get(reverse("courses:lecture", args=[lecture.pk])).status_code == 403
    body = client.get(reverse("courses:catalogue")).content.decode()
    assert "宁波市数字经济专题" not in body


def test_lecture_page_shows_speaker_time_and_buttons(
    cadre_client: Client, cadre: User, programme: Programme
) -> None:
    lecture = LectureFactory(
        programme=programme, sequence=1, title="从DeepSeek看全球人工智能发展趋势"
    )
    lecture.speakers.add(SpeakerFactory(name="王坚", title="中国工程院院士"))
    body = cadre_client.get(reverse("courses:lecture", args=[lecture.pk])).content.decode()
    assert "王坚" in body and "中国工程院院士" in body
    assert "北京时间" in body
    assert 'id="enrol-button"' in body
    Enrolment.objects.create(user=cadre, programme=programme)
    body = cadre_client.get(reverse("courses:lecture", args=[lecture.pk])).content.decode()
    assert 'id="enrol-button"' not in body


def test_unpublished_programme_is_hidden_from_cadres(
    cadre_client: Client, programme: Programme
) -> None:
    programme.is_published = False
    programme.save(update_fields=["is_published"])
    assert cadre_client.get(reverse("courses:programme", args=[programme.pk])).status_code == 404
