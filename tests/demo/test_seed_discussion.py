"""``seed_demo``'s discussion (issue 16 §7): the township group and the lecture spaces."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from courses.models import Lecture
from demo.discussion import GROUP_NAME
from discussion.models import Post, Space, Thread
from discussion.selectors import group_list_for_user
from portal.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_cadres_share_a_study_group_with_lecture_threads(settings: object) -> None:
    settings.DEBUG = True  # type: ignore[attr-defined]
    call_command("seed_demo", cadres=20, stdout=io.StringIO(), stderr=io.StringIO())
    cadre, cadre2 = User.objects.get(username="cadre"), User.objects.get(username="cadre2")
    for user in (cadre, cadre2):
        rows = group_list_for_user(user=user)
        assert rows and rows[0].group.name == GROUP_NAME
    group = group_list_for_user(user=cadre)[0].group
    ended = [lec for lec in Lecture.objects.all() if lec.status == Lecture.Status.ENDED]
    assert ended
    lecture_threads = Thread.objects.filter(space=group.space, lecture__isnull=False)
    assert {t.lecture_id for t in lecture_threads} == {lec.pk for lec in ended}
    assert all(t.post_count >= 3 for t in lecture_threads)
    for lecture in ended:
        space = Space.objects.get(lecture=lecture)
        assert Post.objects.filter(thread__space=space, status="published").count() >= 3
    posts = Post.objects.count()
    call_command("seed_demo", cadres=20, stdout=io.StringIO(), stderr=io.StringIO())
    assert Post.objects.count() == posts  # a re-run adds nothing
    client = Client()
    client.force_login(cadre)
    page = client.get("/groups/").content.decode()
    assert GROUP_NAME in page
