"""Where the origin (deploy/nginx-rtmp.conf) keeps a lecture's stream: names and URLs."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from livestream.models import stream_public_name


def origin_playlist_url(*, lecture_id: int) -> str:
    """The live playlist while the lecture's push is on the origin."""
    base = settings.STREAM_HLS_BASE_URL.rstrip("/")
    return f"{base}/hls/{stream_public_name(lecture_id)}.m3u8"


def replay_dir(*, lecture_id: int) -> Path:
    return Path(settings.STREAM_MEDIA_DIR) / "replays" / stream_public_name(lecture_id)


def replay_playlist_url(*, lecture_id: int) -> str:
    base = settings.STREAM_HLS_BASE_URL.rstrip("/")
    return f"{base}/replays/{stream_public_name(lecture_id)}/index.m3u8"
