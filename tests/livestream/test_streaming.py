"""Status from the stream: push keys, the origin's hooks and their authentication, the
grace period, previews, the override (services and HTTP; the real origin is in
test_stream_ingest.py)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from courses.models import Lecture
from courses.selectors import lecture_status_q
from livestream.models import StreamKey, StreamSession
from livestream.selectors import lecture_payload
from livestream.streaming import services
from tests.factories import LectureFactory

pytestmark = pytest.mark.django_db

SECRET = "hooksecret123"


@pytest.fixture
def hooks(settings: Any) -> Any:
    settings.STREAM_HOOK_SECRET = SECRET
    settings.STREAM_HLS_BASE_URL = "http://origin.test"
    settings.STREAM_RTMP_URL = "rtmp://ingest.test:1935/live"
    settings.STREAM_GRACE_SECONDS = 120
    return settings


def _status(lecture: Lecture, now: Any) -> str:
    lecture.refresh_from_db()
    matching = {
        s
        for s in ("scheduled", "live", "ended")
        if Lecture.objects.filter(lecture_status_q(s, now=now), pk=lecture.pk).exists()
    }
    assert matching == {lecture.status_at(now)}  # the filter says what the model says
    return lecture.status_at(now)


def _hook(path: str, data: dict[str, str], *, token: str = SECRET, addr: str = "127.0.0.1") -> Any:
    return Client(REMOTE_ADDR=addr).post(f"/streaming/hooks/{path}/?token={token}", data)


def test_a_push_in_the_window_takes_the_lecture_live_and_renames_the_stream(
    hooks: Any, lecture: Lecture
) -> None:
    start = timezone.now() + timedelta(minutes=20)  # within the 30 minutes before
    Lecture.objects.filter(pk=lecture.pk).update(
        starts_at=start, ends_at=start + timedelta(hours=1)
    )
    key = services.stream_key_ensure(lecture=lecture).key
    response = _hook("publish", {"call": "publish", "name": key, "addr": "10.1.2.3"})
    assert response.status_code == 302 and response["Location"] == f"lecture-{lecture.pk}"
    now = timezone.now()
    assert _status(lecture, now) == "live"  # before the scheduled start: the stream says so
    payload = lecture_payload(lecture=lecture)
    assert payload["stream"] == "up"
    assert payload["stream_url"] == f"http://origin.test/hls/lecture-{lecture.pk}.m3u8"
    assert key not in payload["stream_url"]
    assert _hook("update", {"name": f"lecture-{lecture.pk}"}).status_code == 200
    # the push stops: live through the grace period, a reconnect keeps it live
    assert _hook("publish-done", {"name": f"lecture-{lecture.pk}"}).status_code == 200
    assert lecture_payload(lecture=Lecture.objects.get(pk=lecture.pk))["stream"] == "down"
    assert services.stream_grace_tick(now=timezone.now() + timedelta(seconds=60)) == []
    assert _status(lecture, timezone.now()) == "live"
    assert _hook("publish", {"name": key}).status_code == 302
    lecture.refresh_from_db()
    assert lecture.stream_down_since is None
    _hook("publish-done", {"name": f"lecture-{lecture.pk}"})
    later = timezone.now() + timedelta(seconds=121)
    assert services.stream_grace_tick(now=later) == [lecture.pk]
    assert _status(lecture, later) == "ended"
    assert "stream" not in lecture_payload(lecture=Lecture.objects.get(pk=lecture.pk))


def test_a_push_outside_the_window_is_a_preview(hooks: Any, lecture: Lecture) -> None:
    key = services.stream_key_ensure(lecture=lecture).key  # the lecture is tomorrow
    assert _hook("publish", {"name": key}).status_code == 302
    session = StreamSession.objects.get(lecture=lecture)
    assert session.preview
    assert _status(lecture, timezone.now()) == "scheduled"
    _hook("publish-done", {"name": f"lecture-{lecture.pk}"})
    lecture.refresh_from_db()
    assert lecture.stream_down_since is None and lecture.stream_live_since is None


def test_the_organisers_override_wins(hooks: Any, lecture: Lecture) -> None:
    now = timezone.now()
    Lecture.objects.filter(pk=lecture.pk).update(
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=85)
    )
    key = services.stream_key_ensure(lecture=lecture).key
    _hook("publish", {"name": key})
    Lecture.objects.filter(pk=lecture.pk).update(status_override="ended")
    assert _status(lecture, timezone.now()) == "ended"


def test_forged_or_unknown_calls_are_refused_and_change_nothing(
    hooks: Any, lecture: Lecture
) -> None:
    now = timezone.now()
    Lecture.objects.filter(pk=lecture.pk).update(
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=85)
    )
    key = services.stream_key_ensure(lecture=lecture).key
    assert _hook("publish", {"name": key}, addr="10.0.0.5").status_code == 403  # not the origin
    assert _hook("publish", {"name": key}, token="wrong").status_code == 403
    assert _hook("publish", {"name": key}, token="").status_code == 403
    assert _hook("publish", {"name": "0" * 32}).status_code == 403  # unknown key
    assert _hook("publish", {"name": "<script>"}).status_code == 400
    assert Client().get(f"/streaming/hooks/publish/?token={SECRET}").status_code in (403, 405)
    lecture.refresh_from_db()
    assert lecture.stream_live_since is None and not StreamSession.objects.exists()
    hooks.STREAM_HOOK_SECRET = ""  # not configured: every call refused
    assert _hook("publish", {"name": key}, token="").status_code == 403


def test_a_rotated_key_is_refused_and_drops_the_running_push(hooks: Any, lecture: Lecture) -> None:
    now = timezone.now()
    Lecture.objects.filter(pk=lecture.pk).update(
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=85)
    )
    old = services.stream_key_ensure(lecture=lecture).key
    assert _hook("publish", {"name": old}).status_code == 302
    out = io.StringIO()
    call_command("stream_key", str(lecture.pk), "--rotate", stdout=out)
    new = StreamKey.objects.get(lecture=lecture).key
    assert out.getvalue().strip() == f"rtmp://ingest.test:1935/live/{new}" and new != old
    # the running push's next heartbeat is refused (the rotation closed its session: the
    # lecture is down, in its grace period) and a new push with the old key too
    assert lecture_payload(lecture=Lecture.objects.get(pk=lecture.pk))["stream"] == "down"
    assert _hook("update", {"name": f"lecture-{lecture.pk}"}).status_code == 403
    assert _hook("publish", {"name": old}).status_code == 403
    assert _hook("publish", {"name": new}).status_code == 302


def test_stream_key_command_refuses_an_unknown_lecture(hooks: Any) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("stream_key", "999999", stdout=io.StringIO())


def test_lectures_without_a_push_follow_the_clock(lecture: Lecture) -> None:
    other = LectureFactory(programme=lecture.programme, sequence=9)
    assert _status(other, timezone.now()) == "scheduled"
    assert "stream" not in lecture_payload(lecture=other)


def _flv(path: Any, seconds: int, freq: int) -> None:
    import subprocess

    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size=160x120:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-f", "flv", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip


def test_an_evenings_sessions_join_into_one_replay(
    hooks: Any,
    lecture: Lecture,
    tmp_path: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Two pushes (the encoder dropped once): the record-done hook keeps each recording
    and the replay is both, in order, remuxed (Celery inline here)."""
    import subprocess

    from portal.celery import app as celery_app

    settings.STREAM_MEDIA_DIR = str(tmp_path / "stream")
    now = timezone.now()
    Lecture.objects.filter(pk=lecture.pk).update(
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=85)
    )
    key = services.stream_key_ensure(lecture=lecture).key
    first, second = (
        tmp_path / f"lecture-{lecture.pk}-100.flv",
        tmp_path / f"lecture-{lecture.pk}-200.flv",
    )
    _flv(first, 3, 440)
    _flv(second, 4, 880)
    celery_app.conf.task_always_eager = True
    try:
        for path in (first, second):
            assert _hook("publish", {"name": key}).status_code == 302
            _hook("publish-done", {"name": key})  # the ingest reports the name it was given
            with django_capture_on_commit_callbacks(execute=True):
                response = _hook("record-done", {"name": key, "path": str(path)})
            assert response.status_code == 200
    finally:
        celery_app.conf.task_always_eager = False
    lecture.refresh_from_db()
    assert lecture.replay_url == f"http://origin.test/replays/lecture-{lecture.pk}/index.m3u8"
    playlist = tmp_path / "stream" / "replays" / f"lecture-{lecture.pk}" / "index.m3u8"
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(playlist)],
        capture_output=True, check=True, text=True, timeout=30,
    )  # fmt: skip
    assert abs(float(out.stdout) - 7.0) <= 1.0
    # an organiser's own replay URL is never replaced
    Lecture.objects.filter(pk=lecture.pk).update(replay_url="https://cdn.example.org/r.m3u8")
    from livestream.streaming.replays import replay_build

    replay_build(lecture_id=lecture.pk)
    lecture.refresh_from_db()
    assert lecture.replay_url == "https://cdn.example.org/r.m3u8"


def test_with_a_cdn_the_push_and_play_urls_are_the_providers_signed_ones(
    hooks: Any, lecture: Lecture
) -> None:
    hooks.STREAM_CDN_PROVIDER = "tencent"
    hooks.STREAM_CDN_PUSH_DOMAIN = "push.example.com"
    hooks.STREAM_CDN_PLAY_DOMAIN = "play.example.com"
    hooks.STREAM_CDN_PUSH_KEY = "e12c46f2612d5106e2034781ab261ca3"
    lecture.stream_url = ""
    url = services.stream_push_url(lecture=lecture, now=1_546_000_000)
    assert url.startswith(f"rtmp://push.example.com/live/lecture-{lecture.pk}?txSecret=")
    assert lecture_payload(lecture=lecture).get("stream") is None
    from livestream.selectors import lecture_stream_url

    assert lecture_stream_url(lecture=lecture).startswith(
        f"https://play.example.com/live/lecture-{lecture.pk}.m3u8"
    )


def test_the_cdns_signed_callbacks_drive_the_status(hooks: Any, lecture: Lecture) -> None:
    import hashlib
    import json
    import time

    now = timezone.now()
    Lecture.objects.filter(pk=lecture.pk).update(
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=85)
    )
    name = f"lecture-{lecture.pk}"
    hooks.STREAM_CDN_CALLBACK_KEY = "cbkey"
    hooks.STREAM_CDN_CALLBACK_HOST = "portal.example.org"

    # Tencent: POST JSON, sign = md5(key + t), t an expiry in the future
    hooks.STREAM_CDN_PROVIDER = "tencent"
    t = int(time.time()) + 600
    sign = hashlib.md5(f"cbkey{t}".encode()).hexdigest()  # noqa: S324 (the provider's scheme)
    url = "/streaming/hooks/cdn/tencent/"

    def tencent(body: dict[str, Any]) -> Any:
        return Client().post(url, json.dumps(body), content_type="application/json")

    assert (
        tencent({"event_type": 1, "stream_id": name, "t": t, "sign": "0" * 32}).status_code == 403
    )
    assert (
        tencent({"event_type": 1, "stream_id": name, "t": t - 1200, "sign": sign}).status_code
        == 403
    )
    assert not Lecture.objects.filter(pk=lecture.pk, stream_live_since__isnull=False).exists()
    assert tencent({"event_type": 1, "stream_id": name, "t": t, "sign": sign}).status_code == 200
    assert lecture_payload(lecture=Lecture.objects.get(pk=lecture.pk))["stream"] == "up"
    assert tencent({"event_type": 0, "stream_id": name, "t": t, "sign": sign}).status_code == 200
    assert lecture_payload(lecture=Lecture.objects.get(pk=lecture.pk))["stream"] == "down"

    # Aliyun: GET, ALI-LIVE-SIGNATURE = md5("host|timestamp|key"); the wrong provider refuses
    assert tencent({"event_type": 1, "stream_id": name, "t": t, "sign": sign}).status_code == 200
    hooks.STREAM_CDN_PROVIDER = "aliyun"
    assert tencent({"event_type": 1, "stream_id": name, "t": t, "sign": sign}).status_code == 403
    ts = str(int(time.time()))
    good = hashlib.md5(f"portal.example.org|{ts}|cbkey".encode()).hexdigest()  # noqa: S324
    aliyun = f"/streaming/hooks/cdn/aliyun/?action=publish_done&app=live&id={name}"

    def call(signature: str, stamp: str = ts) -> Any:
        return Client().get(
            aliyun, headers={"ALI-LIVE-TIMESTAMP": stamp, "ALI-LIVE-SIGNATURE": signature}
        )

    assert call("0" * 32).status_code == 403
    assert call(good, stamp=str(int(ts) - 3600)).status_code == 403
    assert call(good).status_code == 200
    assert lecture_payload(lecture=Lecture.objects.get(pk=lecture.pk))["stream"] == "down"
