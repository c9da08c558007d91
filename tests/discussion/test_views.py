"""Discussion pages and JSON API over HTTP: members only, clear refusals, no HTML."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from courses.models import Lecture
from discussion.models import Post, PostReport, StudyGroup
from livestream.models import Question
from portal.models import User
from tests.discussion.conftest import lecture_thread

pytestmark = pytest.mark.django_db


def _client(user: User | None, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def _post(client: Client, url: str, body: Any, **extra: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


def test_non_members_get_403_on_page_and_api(group: StudyGroup, outsider: User) -> None:
    thread = lecture_thread(group)
    client = _client(outsider)
    assert client.get(f"/groups/{group.pk}/").status_code == 403
    assert client.get(f"/discussion/threads/{thread.pk}/").status_code == 403
    response = client.get(f"/api/discussion/threads/{thread.pk}/posts/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    response = _post(
        client, f"/api/discussion/threads/{thread.pk}/posts/", {"text": "x", "client_id": "a"}
    )
    assert response.status_code == 403 and not Post.objects.exists()
    assert _client(None).get(f"/api/discussion/threads/{thread.pk}/posts/").status_code == 401
    assert _client(outsider).get("/groups/999999/").status_code == 404


def test_members_post_like_and_report_through_the_api(
    group: StudyGroup, member: User, member2: User
) -> None:
    thread = lecture_thread(group)
    url = f"/api/discussion/threads/{thread.pk}/posts/"
    a, b = _client(member), _client(member2)
    created = _post(a, url, {"text": "<img src=x onerror=alert(1)>好", "client_id": "c1"})
    assert created.status_code == 201
    post = created.json()["post"]
    assert post["parts"] == [{"t": "text", "v": "<img src=x onerror=alert(1)>好"}]
    assert (
        _post(a, url, {"text": "<img src=x onerror=alert(1)>好", "client_id": "c1"}).status_code
        == 200
    )
    listed = b.get(url).json()
    assert [p["id"] for p in listed["posts"]] == [post["id"]]
    liked = _post(b, f"/api/discussion/posts/{post['id']}/like/", {"up": True}).json()
    assert liked == {"post_id": post["id"], "likes": 1, "liked": True}
    report = _post(b, f"/api/discussion/posts/{post['id']}/report/", {"reason": "spam"})
    assert report.status_code == 201
    assert (
        _post(b, f"/api/discussion/posts/{post['id']}/report/", {"reason": "spam"}).status_code
        == 200
    )
    assert PostReport.objects.count() == 1
    bad = _post(b, f"/api/discussion/posts/{post['id']}/report/", {"reason": "other"})
    assert bad.status_code == 400  # "something else" needs a detail
    assert bad.json()["error"]["code"] == "invalid"
    refused = _post(
        b, f"/api/discussion/posts/{post['id']}/moderate/", {"action": "hide", "reason": "x"}
    )
    assert refused.status_code == 403


def test_huge_and_malformed_bodies_are_refused_with_codes(group: StudyGroup, member: User) -> None:
    thread = lecture_thread(group)
    url = f"/api/discussion/threads/{thread.pk}/posts/"
    client = _client(member)
    huge = client.post(
        url,
        data=json.dumps({"text": "字" * 5_000_000, "client_id": "big"}),
        content_type="application/json",
    )
    assert huge.status_code == 400 and huge.json()["error"]["code"] == "too_long"
    assert (
        client.post(url, data="{not json", content_type="application/json").json()["error"]["code"]
        == "invalid"
    )
    assert _post(client, url, ["a"]).json()["error"]["code"] == "invalid"
    assert _post(client, url, {"text": 5, "client_id": "n"}).json()["error"]["code"] == "invalid"
    assert (
        _post(client, url, {"text": "x", "client_id": "p", "parent_id": "abc"}).status_code == 400
    )
    assert not Post.objects.exists()


def test_writes_need_the_csrf_token(group: StudyGroup, member: User) -> None:
    thread = lecture_thread(group)
    client = _client(member, enforce_csrf_checks=True)
    response = _post(
        client, f"/api/discussion/threads/{thread.pk}/posts/", {"text": "x", "client_id": "a"}
    )
    assert response.status_code == 403 and not Post.objects.exists()


def test_pages_render_for_members(
    group: StudyGroup, member: User, member2: User, ended_lecture: Lecture
) -> None:
    Question.objects.create(
        lecture=ended_lecture,
        author=member2,
        text="脑机接口什么时候能用？",
        client_id="q1",
        status=Question.Status.ANSWERED,
    )
    thread = lecture_thread(group)
    _post(
        _client(member2),
        f"/api/discussion/threads/{thread.pk}/posts/",
        {"text": "新帖", "client_id": "n1"},
    )
    client = _client(member)
    groups = client.get("/groups/")
    assert groups.status_code == 200
    assert 'data-unread="1"' in groups.content.decode()
    page = client.get(f"/groups/{group.pk}/").content.decode()
    assert "灵隐街道学习群" in page and "discussion-config" in page
    space = client.get(f"/lectures/{ended_lecture.pk}/discussion/").content.decode()
    assert "脑机接口什么时候能用？" in space
    thread_page = client.get(f"/discussion/threads/{thread.pk}/")
    assert thread_page.status_code == 200
    # opening the thread marks it read
    assert 'data-unread="1"' not in client.get("/groups/").content.decode()


def test_moderators_open_a_lecture_space_early(
    programme: Any, organiser: User, member: User
) -> None:
    from tests.factories import LectureFactory

    upcoming = LectureFactory(programme=programme, sequence=5)
    url = f"/lectures/{upcoming.pk}/discussion/"
    page = _client(member).get(url).content.decode()
    assert 'id="space-closed"' in page and 'id="space-open"' not in page
    assert _client(member).post(url + "open/").status_code == 403
    assert 'id="space-open"' in _client(organiser).get(url).content.decode()
    assert _client(organiser).post(url + "open/").status_code == 302
    page = _client(member).get(url).content.decode()
    assert 'id="space-closed"' not in page and 'id="thread-form"' in page


def test_party_school_staff_set_up_a_group_on_the_site(
    tree: Any, programme: Any, school_staff: User, member: User, member2: User
) -> None:
    client = _client(school_staff)
    form = client.get("/groups/new/").content.decode()
    assert "灵隐街道" in form and "海曙区" not in form  # only units they manage
    response = client.post(
        "/groups/new/",
        {
            "name": "灵隐青年学习群",
            "unit": tree.lingyin.pk,
            "programme": programme.pk,
            "members_from_unit": "on",
        },
    )
    assert response.status_code == 302
    group = StudyGroup.objects.get(name="灵隐青年学习群")
    assert set(group.members.values_list("user_id", flat=True)) == {member.pk, member2.pk}
    outside = client.post(
        "/groups/new/", {"name": "x", "unit": tree.haishu.pk, "programme": programme.pk}
    )
    assert outside.status_code == 200 and StudyGroup.objects.filter(name="x").count() == 0
    assert _client(member).get("/groups/new/").status_code == 403
