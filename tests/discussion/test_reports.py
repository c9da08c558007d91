"""The discussion's optional columns in the attendance report (from the summaries)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from courses.models import Lecture
from discussion import services
from discussion.selectors import space_access
from portal.models import User

pytestmark = pytest.mark.django_db


def _lecture_posts(lecture: Lecture, authors: list[User]) -> None:
    space = services.lecture_space_ensure(lecture=lecture)
    space.refresh_from_db()
    topic = services.thread_create(
        access=space_access(user=authors[0], space=space),
        title="收获",
        text="第一条",
        client_id="t",
    )
    for i, author in enumerate(authors[1:]):
        services.post_create(
            access=space_access(user=author, space=space),
            thread_id=topic.thread.pk,
            text=f"回复{i}",
            client_id=f"r{i}",
        )


def _table(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_posts_and_participants_per_unit(
    tree: Any, organiser: User, ended_lecture: Lecture, member: User, member2: User
) -> None:
    _lecture_posts(ended_lecture, [member, member, member2])
    client = Client()
    client.force_login(organiser)
    base = f"/reports/attendance/?lecture={ended_lecture.pk}&unit={tree.hangzhou.code}"
    page = client.get(base)
    assert page.status_code == 200 and "extra=discussion" in page.content.decode()
    assert "discussion_posts" not in page.content.decode()
    rows = _table(client.get(base + "&extra=discussion&format=csv"))
    header = rows[0]
    posts, people = header.index("发帖数"), header.index("参与人数")
    by_unit = {r[0]: (r[posts], r[people]) for r in rows[1:]}
    assert by_unit["西湖区"] == ("3", "2")
    assert by_unit["余杭区"] == ("0", "0")
    assert by_unit["合计"] == ("3", "2")
    sorted_page = client.get(base + "&extra=discussion&sort=-discussion_posts")
    assert sorted_page.status_code == 200
    township = _table(
        client.get(
            f"/reports/attendance/?lecture={ended_lecture.pk}&unit={tree.xihu.code}"
            "&extra=discussion&format=csv"
        )
    )
    assert [r[-2:] for r in township if r[0] == "灵隐街道"] == [["3", "2"]]
    assert client.get(base + "&extra=nonsense").status_code == 400


def test_staff_see_each_groups_posts_and_participants(
    group: Any, school_staff: User, member: User, member2: User
) -> None:
    thread = group.space.threads.get(lecture__isnull=False)
    for i, author in enumerate((member, member, member2)):
        services.post_create(
            access=space_access(user=author, space=group.space),
            thread_id=thread.pk,
            text=f"帖子{i}",
            client_id=f"g{i}",
        )
    client = Client()
    client.force_login(school_staff)
    page = client.get("/groups/").content.decode()
    assert "共 3 条帖子，2 人参与" in page
    client.force_login(member)
    assert "data-activity" not in client.get("/groups/").content.decode()
