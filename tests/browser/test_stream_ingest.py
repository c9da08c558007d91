"""From the hall's encoder to the browser, with the real streaming parts (issue 17): Debian's
nginx + libnginx-mod-rtmp as the origin (deploy/nginx-rtmp.conf), ffmpeg pushing a test
pattern with a tone, the portal on a real daphne answering the origin's hooks, Chromium
in the live room. Nothing on the streaming path is mocked."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from courses.models import Lecture
from courses.services import enrolment_create
from livestream.models import Recording, StreamSession
from livestream.streaming import services
from livestream.streaming.replays import replay_build
from portal.models import User
from tests.browser.conftest import new_page
from tests.browser.live_support import session_cookie
from tests.livestream.servers import daphne, free_port, production_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "ingestsecret42"
PUSH_SECONDS = 20


def _rtmp_config() -> Any:
    spec = importlib.util.spec_from_file_location("rtmp_config", ROOT / "scripts/rtmp_config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), b""
    except OSError:  # not listening yet
        return 0, {}, b""


def _push(rtmp: str, key: str, seconds: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
            "-f", "flv", f"{rtmp}/{key}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.fixture
def origin(redis_url: str, tmp_path: Path, settings: Any) -> Iterator[dict[str, Any]]:
    """The portal on daphne and nginx-rtmp calling its hooks; media under tmp_path."""
    if (
        shutil.which("ffmpeg") is None
        or not Path("/usr/lib/nginx/modules/ngx_rtmp_module.so").exists()
    ):
        pytest.fail("ffmpeg and libnginx-mod-rtmp are needed: scripts/system-deps.sh installs them")
    # the origin's workers (www-data when nginx starts as root) must reach the media: not
    # under pytest's private tmp_path
    media = Path(tempfile.mkdtemp(prefix="zx-origin-"))
    media.chmod(0o755)
    http_port, rtmp_port = free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"
    extra = {
        "DEBUG": "true",  # static files (hls.js) from the app
        "LIVE_VIEWERS_INTERVAL_SECONDS": "1",
        "STREAM_HOOK_SECRET": SECRET,
        "STREAM_HLS_BASE_URL": base,
        "STREAM_MEDIA_DIR": str(media),
        "STREAM_RTMP_URL": f"rtmp://127.0.0.1:{rtmp_port}/live",
    }
    settings.STREAM_HLS_BASE_URL = base
    settings.STREAM_MEDIA_DIR = str(media)
    settings.STREAM_RTMP_URL = extra["STREAM_RTMP_URL"]
    settings.STREAM_GRACE_SECONDS = 3
    env = production_env(redis_url=redis_url, prefix=f"zxs:{uuid.uuid4().hex[:8]}:", extra=extra)
    with daphne(env, log=tmp_path / "daphne.log") as port:
        folder = tmp_path / "nginx"
        folder.mkdir()
        conf = _rtmp_config().rtmp_conf(
            folder=folder,
            rtmp_listen=f"127.0.0.1:{rtmp_port}",
            http_listen=f"127.0.0.1:{http_port}",
            hook_base=f"http://127.0.0.1:{port}/streaming/hooks",
            hook_secret=SECRET,
            media_dir=media,
        )
        (folder / "nginx-rtmp.conf").write_text(conf)
        nginx = subprocess.Popen(
            ["/usr/sbin/nginx", "-c", str(folder / "nginx-rtmp.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "stderr.log", "wb"),
        )
        try:
            _wait(lambda: _get(f"{base}/origin-health")[0] == 200, 10, "the origin")
            yield {
                "server": f"http://127.0.0.1:{port}",
                "rtmp": f"rtmp://127.0.0.1:{rtmp_port}/live",
                "http": base,
                "media": media,
                "logs": folder,
            }
        finally:
            nginx.terminate()
            nginx.wait(10)
            shutil.rmtree(media, ignore_errors=True)


def _playing(page: Any) -> None:
    """The viewer presses play (muted, as autoplay would) until the video's time advances:
    a press before the first fragment is there is lost when the player reloads."""
    page.wait_for_function(
        "() => { const v = document.getElementById('live-video'); v.muted = true;"
        " if (v.paused) v.play().catch(() => null); return v.currentTime > 1; }",
        timeout=30_000,
        polling=500,
    )


def _duration(url_or_path: str) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", url_or_path],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return float(json.loads(out.stdout)["format"]["duration"])


def test_a_push_goes_live_plays_drops_ends_and_replays(
    origin: dict[str, Any], browser: Browser, cadre: User, programme: Any, lecture: Lecture
) -> None:
    now = timezone.now()
    Lecture.objects.filter(pk=lecture.pk).update(
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=85), stream_url=""
    )
    enrolment_create(user=cadre, programme=programme)
    key = services.stream_key_ensure(lecture=lecture).key

    # a wrong key is refused by the portal: the origin drops the push at once
    wrong = _push(origin["rtmp"], "f" * 32, 3)
    assert wrong.wait(20) != 0
    assert not StreamSession.objects.exists()

    page = new_page(browser, {"width": 1280, "height": 900})
    page.context.add_cookies(
        [{"name": "sessionid", "value": session_cookie(cadre), "url": origin["server"]}]
    )
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.goto(f"{origin['server']}/lectures/{lecture.pk}/live/")
    try:
        expect(page.locator("#live-conn")).to_have_text("已连接", timeout=15_000)
        started = time.monotonic()
        push = _push(origin["rtmp"], key, PUSH_SECONDS)
        _wait(
            lambda: Lecture.objects.filter(pk=lecture.pk, stream_live_since__isnull=False).exists(),
            5,
            "the lecture to go live from the stream",
        )
        assert time.monotonic() - started < 5
        playlist = f"{origin['http']}/hls/lecture-{lecture.pk}.m3u8"
        hls_dir = Path(origin["media"], "hls")
        _status, headers, body = _wait(
            lambda: (r := _get(playlist))[0] == 200 and b".ts" in r[2] and r,
            10,
            f"the playlist ({sorted(p.name for p in hls_dir.iterdir())[:5]})",
        )
        assert "max-age=1" in headers["Cache-Control"]
        assert key.encode() not in body  # the public name, never the key
        segment = next(line for line in body.decode().splitlines() if line.endswith(".ts"))
        seg_status, seg_headers, _ = _get(f"{origin['http']}/hls/{segment}")
        assert seg_status == 200 and "immutable" in seg_headers["Cache-Control"]
        assert not list(Path(origin["media"], "hls").glob(f"{key}*"))

        # the room's player starts by itself (stream.status up) and time advances
        page.wait_for_function(
            "() => { const v = document.getElementById('live-video');"
            " return v && (v.currentSrc || v.src); }",
            timeout=15_000,
        )
        _playing(page)

        # the push stops: the room shows the interruption, not a black player
        assert push.wait(PUSH_SECONDS + 20) == 0, push.stderr.read() if push.stderr else b""
        expect(page.locator("#countdown")).to_have_text("信号中断，正在恢复", timeout=15_000)
        _wait(
            lambda: Lecture.objects.filter(pk=lecture.pk, stream_down_since__isnull=False).exists(),
            10,
            "the push's end",
        )

        # the recording, remuxed into the replay (the worker's job, run here)
        recording = _wait(
            lambda: Recording.objects.filter(lecture=lecture).first(), 15, "the recording"
        )
        replay = replay_build(lecture_id=lecture.pk)
        assert replay is not None and replay.recordings == 1
        assert abs(_duration(replay.url) - PUSH_SECONDS) <= 1.0, recording.path
        lecture.refresh_from_db()
        assert lecture.replay_url == replay.url

        # after the grace the lecture ends; the room switches to the replay, which plays
        assert services.stream_grace_tick(now=timezone.now() + timedelta(seconds=4)) == [lecture.pk]
        expect(page.locator("#live-badge")).to_have_attribute(
            "data-status", "ended", timeout=15_000
        )
        page.wait_for_function(
            "(url) => { const v = document.getElementById('live-video');"
            " return v && (v.currentSrc === url || (window.Hls && v.src.startsWith('blob:'))); }",
            arg=replay.url,
            timeout=15_000,
        )
        _playing(page)
    except Exception:
        print("\n".join(console[-30:]))  # what the page said, for the failure's report
        print(page.locator("#countdown").text_content())
        print(
            page.evaluate(
                "() => { const v = document.getElementById('live-video'); return {src: v.src,"
                " t: v.currentTime, err: v.error && v.error.code, rs: v.readyState,"
                " hls: !!window.Hls, native: v.canPlayType('application/vnd.apple.mpegurl')}; }"
            )
        )
        raise
    finally:
        page.context.close()
        error_log = origin["logs"] / "nginx-rtmp-error.log"
        if error_log.exists():
            print(error_log.read_text()[-3000:])  # shown by pytest only when the test fails
