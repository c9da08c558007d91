"""The room page and the projector view."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import LectureFactory

pytestmark = pytest.mark.django_db


def test_room_url_contract(lecture):
    assert reverse("livestream:room", args=[lecture.pk]) == f"/lectures/{lecture.pk}/live/"
    assert reverse("livestream:screen", args=[lecture.pk]) == f"/lectures/{lecture.pk}/screen/"


def test_room_needs_sign_in(client, lecture):
    response = client.get(f"/lectures/{lecture.pk}/live/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_room_page_for_a_viewer(client, viewer, lecture):
    client.force_login(viewer)
    response = client.get(f"/lectures/{lecture.pk}/live/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "匿名提问" in html
    assert "hls" not in html.split('id="live-config"')[0]  # no player script up front
    assert "moderator.js" not in html
    config = response.context["live_config"]
    assert config["role"] == "viewer"
    assert config["wsPath"] == f"/ws/lectures/{lecture.pk}/"
    assert config["hlsScript"].endswith("hls.light.min.js")  # loaded on demand
    assert config["messages"]["rate_limited"] == "操作太频繁，请稍候再试。"
    assert 'id="live-config"' in html


def test_room_page_for_a_moderator_has_the_console(client, organiser, lecture):
    client.force_login(organiser)
    html = client.get(f"/lectures/{lecture.pk}/live/").content.decode()
    assert "moderator.js" in html
    assert "问题审核" in html


def test_room_page_refuses_outsiders_and_unknown_lectures(client, outsider, lecture):
    client.force_login(outsider)
    assert client.get(f"/lectures/{lecture.pk}/live/").status_code == 403
    assert client.get("/lectures/999999/live/").status_code == 404


def test_lecture_title_is_escaped(client, viewer, lecture):
    lecture.title = "<script>alert(1)</script>"
    lecture.save()
    client.force_login(viewer)
    html = client.get(f"/lectures/{lecture.pk}/live/").content.decode()
    assert "<script>alert(1)</script>" not in html


def test_screen_page(client, viewer, lecture):
    client.force_login(viewer)
    response = client.get(f"/lectures/{lecture.pk}/screen/")
    assert response.status_code == 200
    assert response.context["live_config"]["screen"] is True


def test_an_ended_room_is_an_archive_without_an_ask_box(client, viewer, lecture):
    from datetime import timedelta

    from django.utils import timezone

    lecture.starts_at = timezone.now() - timedelta(days=1)
    lecture.save()
    assert lecture.status == "ended"
    client.force_login(viewer)
    html = client.get(f"/lectures/{lecture.pk}/live/").content.decode()
    assert '<form id="ask-form" class="ask-form" autocomplete="off" hidden>' in html
    assert "讲座已结束" in html
    live = LectureFactory(programme=lecture.programme, sequence=2)
    html = client.get(f"/lectures/{live.pk}/live/").content.decode()
    assert '<form id="ask-form" class="ask-form" autocomplete="off">' in html


def test_speaker_view_is_for_moderators(client, viewer, organiser, lecture):
    url = reverse("livestream:speaker", args=[lecture.pk])
    assert url == f"/lectures/{lecture.pk}/speaker/"
    client.force_login(viewer)
    assert client.get(url).status_code == 403  # the list is the moderators' work
    client.force_login(organiser)
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "speaker.js" in html and "moderator.js" not in html  # no queue, no Q&A noise
    assert "ask-form" not in html and "live-video" not in html
    config = response.context["live_config"]
    assert config["screen"] is True and config["speaker"] is True
    assert config["role"] == "moderator"
    assert "主讲人" in html


def test_the_console_has_the_shared_queue_tools(client, organiser, lecture):
    client.force_login(organiser)
    response = client.get(f"/lectures/{lecture.pk}/live/")
    html = response.content.decode()
    assert 'id="queue-filter"' in html and 'id="console-speaker-list"' in html
    assert reverse("livestream:speaker", args=[lecture.pk]) in html
    assert response.context["live_config"]["userId"] == organiser.pk
