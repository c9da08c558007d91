"""The organisers' live dashboard of a lecture: who may open it, its figures, and the
``lecture.stats`` event the hub's tick sends to moderators only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from courses.models import Attendance, Lecture
from courses.summaries.sync import attendance_summaries_sync
from livestream.stats import lecture_stats_get, lecture_stats_send
from portal.models import OrgUnit, User
from tests.livestream.conftest import open_socket, orm


def _get(client: HttpClient, user: User | None, lecture_id: int) -> Any:
    if user is not None:
        client.force_login(user)
    return client.get(reverse("livestream:dashboard", args=[lecture_id]))


@pytest.mark.django_db
def test_organiser_sees_the_figures_in_chinese(
    client: HttpClient, organiser: User, lecture: Lecture
) -> None:
    response = _get(client, organiser, lecture.pk)
    assert response.status_code == 200
    page = response.content.decode()
    for label in ("实时大屏", "当前在线", "集中收看签到", "参训人次", "已完成"):
        assert label in page
    assert 'id="stat-attendees">0<' in page


@pytest.mark.django_db
def test_named_moderator_may_open_it(
    client: HttpClient, named_moderator: User, lecture: Lecture
) -> None:
    assert _get(client, named_moderator, lecture.pk).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["viewer", "outsider", "school_staff"])
def test_others_get_403(client: HttpClient, lecture: Lecture, who: str, request: Any) -> None:
    user = request.getfixturevalue(who)
    response = _get(client, user, lecture.pk)
    assert response.status_code == 403
    assert "组织者" in response.content.decode()


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in_and_unknown_is_404(
    client: HttpClient, organiser: User, lecture: Lecture
) -> None:
    response = _get(client, None, lecture.pk)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert _get(client, organiser, 999_999).status_code == 404


@pytest.mark.django_db
def test_the_room_links_moderators_to_it(
    client: HttpClient, organiser: User, viewer: User, lecture: Lecture
) -> None:
    url = reverse("livestream:dashboard", args=[lecture.pk])
    client.force_login(organiser)
    assert url in client.get(reverse("livestream:room", args=[lecture.pk])).content.decode()
    client.force_login(viewer)
    assert url not in client.get(reverse("livestream:room", args=[lecture.pk])).content.decode()


def _attend(user: User, lecture: Lecture, **fields: Any) -> None:
    Attendance.objects.create(user=user, lecture=lecture, **fields)
    attendance_summaries_sync(lecture_id=lecture.pk, user_ids=[user.pk])


@pytest.mark.django_db
def test_figures_come_from_the_summaries(
    tree: Any, viewer: User, viewer2: User, outsider: User, lecture: Lecture
) -> None:
    _attend(viewer, lecture, live_seconds=3600, completed=True)
    _attend(viewer2, lecture, checked_in_at=timezone.now(), completed=True)
    _attend(outsider, lecture, replay_seconds=60)
    stats = lecture_stats_get(lecture=lecture)
    assert stats["attendees"] == 3
    assert stats["checked_in"] == 1
    assert stats["online"] == 1
    assert stats["completed"] == 2
    assert stats["enrolled"] == 2
    assert stats["viewers"] == 0


@pytest.mark.django_db
def test_one_stats_read_does_not_grow_with_attendance(
    tree: Any, viewer: User, viewer2: User, lecture: Lecture, django_assert_max_num_queries: Any
) -> None:
    lecture_stats_get(lecture=lecture)  # warm the headcount memo
    _attend(viewer, lecture, live_seconds=60)
    _attend(viewer2, lecture, live_seconds=60)
    with django_assert_max_num_queries(4):
        lecture_stats_send(lecture_id=lecture.pk)


@pytest.mark.django_db(transaction=True)
async def test_the_hub_tick_sends_stats_to_moderators_only(
    live_settings: Any, viewer: User, organiser: User, lecture: Lecture
) -> None:
    live_settings.LIVE_VIEWERS_INTERVAL_SECONDS = 0.2
    await orm(lambda: _attend(viewer, lecture, live_seconds=120))
    mod = await open_socket(organiser, lecture.pk)
    cadre = await open_socket(viewer, lecture.pk)
    stats = await mod.find("lecture.stats", timeout=5)
    assert stats["attendees"] == 1 and stats["online"] == 1
    assert stats["viewers"] in (1, 2)  # presence catches up within a tick
    stats = await mod.find("lecture.stats", timeout=5)
    # the sockets counted by city: the cadre's township lies in Hangzhou
    hangzhou = await orm(lambda: OrgUnit.objects.get(name="杭州市").pk)
    for _tick in range(20):  # presence catches up within a tick or two
        rows = {u["id"]: u for u in stats["units"]}
        if rows.get(hangzhou, {}).get("viewers", 0) >= 1:
            break
        stats = await mod.find("lecture.stats", timeout=5)
    assert rows[hangzhou]["viewers"] >= 1, stats["units"]
    assert stats["series"] and stats["series"][-1][1] >= 1
    await asyncio.sleep(0.5)
    frames = []
    while not await cadre.silent(0.05):
        frames.append(await cadre.recv())
    assert frames and all(f["type"] != "lecture.stats" for f in frames)
    await mod.close()
    await cadre.close()


@pytest.mark.django_db
def test_the_big_screen_has_cities_questions_waiting_and_a_line(
    tree: Any, viewer: User, viewer2: User, outsider: User, lecture: Lecture
) -> None:
    from livestream.models import Question
    from livestream.stats import lecture_series_add
    from livestream.store import store_get

    _attend(viewer, lecture, checked_in_at=timezone.now())
    _attend(viewer2, lecture, live_seconds=60)
    store = store_get()
    # this process's sockets: the cadre (灵隐街道) and 王五 (灵隐村), both in Hangzhou
    from livestream.stats import viewers_by_group

    by_city = viewers_by_group(user_units={viewer.pk: viewer.unit_id, viewer2.pk: tree.village.pk})
    assert by_city == {tree.hangzhou.pk: 2}
    store.presence_set(lecture_id=lecture.pk, process_id="p1", count=2, by_unit=by_city)
    lecture_series_add(lecture_id=lecture.pk, viewers=2)
    lecture_series_add(lecture_id=lecture.pk, viewers=3)  # within the interval: no point
    for i, text in enumerate(["第一个问题", "第二个问题", "有人说法轮功怎么办"]):
        Question.objects.create(
            lecture=lecture, author=viewer, text=text, flagged=i == 2, client_id=f"q{i}"
        )
    Question.objects.create(
        lecture=lecture, author=viewer, text="已发布", status="approved", client_id="q9"
    )

    stats = lecture_stats_get(lecture=lecture)
    rows = {u["name"]: u for u in stats["units"]}
    assert set(rows) == {"杭州市", "宁波市"}  # every city, even one with nobody yet
    assert rows["杭州市"] == {
        "id": tree.hangzhou.pk,
        "name": "杭州市",
        "viewers": 2,
        "checked_in": 1,
        "attendees": 2,
    }
    assert rows["宁波市"]["viewers"] == rows["宁波市"]["attendees"] == 0
    assert stats["questions_waiting"] == 3
    assert [w["text"] for w in stats["waiting"]] == [
        "第一个问题",
        "第二个问题",
        "有人说法轮功怎么办",
    ]
    assert [w["flagged"] for w in stats["waiting"]] == [False, False, True]
    assert len(stats["series"]) == 1 and stats["series"][0][1] == 2


@pytest.mark.django_db
def test_the_page_draws_the_big_screen(
    client: HttpClient, organiser: User, viewer: User, lecture: Lecture
) -> None:
    from livestream.models import Question

    Question.objects.create(lecture=lecture, author=viewer, text="基层怎样起步？")
    page = _get(client, organiser, lecture.pk).content.decode()
    for label in ("在线人数变化", "各市在线与签到", "待审核提问", "基层怎样起步？", "杭州市"):
        assert label in page, label
    assert 'id="stat-questions_waiting">1<' in page
    assert 'id="dashboard-stats"' in page  # the figures for the charts, as JSON
