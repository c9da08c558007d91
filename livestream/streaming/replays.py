"""The automatic replay: an evening's recordings joined in order into one HLS VOD with
ffmpeg (concat demuxer, stream copy: no re-encode), swapped in atomically, and set as the
lecture's replay URL (unless an organiser set one of their own)."""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from courses.models import Lecture
from livestream.models import Recording
from livestream.streaming.origin import replay_dir, replay_playlist_url

logger = logging.getLogger(__name__)

SEGMENT_SECONDS = 2
FFMPEG_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class Replay:
    lecture_id: int
    recordings: int
    url: str


def _concat_list(paths: list[Path]) -> str:
    # the concat demuxer's quoting: inside '…', a quote is written '\''
    return "".join("file '" + str(p).replace("'", "'\\''") + "'\n" for p in paths)


def replay_build(*, lecture_id: int) -> Replay | None:
    """Idempotent: the same recordings give the same replay; a new one rebuilds it."""
    paths = [
        Path(p)
        for p in Recording.objects.filter(lecture_id=lecture_id, preview=False)
        .order_by("recorded_at", "pk")
        .values_list("path", flat=True)
    ]
    paths = [p for p in paths if p.is_file() and p.stat().st_size > 0]
    if not paths:
        return None
    target = replay_dir(lecture_id=lecture_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{target.name}.{secrets.token_hex(4)}"
    work.mkdir()
    try:
        (work / "inputs.txt").write_text(_concat_list(paths), encoding="utf-8")
        subprocess.run(  # noqa: S603 (fixed arguments, our own paths)
            [
                settings.STREAM_FFMPEG,
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(work / "inputs.txt"),
                "-c",
                "copy",
                "-f",
                "hls",
                "-hls_time",
                str(SEGMENT_SECONDS),
                "-hls_playlist_type",
                "vod",
                "-hls_segment_filename",
                str(work / "seg-%05d.ts"),
                str(work / "index.m3u8"),
            ],
            check=True,
            capture_output=True,
            timeout=FFMPEG_TIMEOUT_SECONDS,
        )
        (work / "inputs.txt").unlink()
        old = target.parent / f".{target.name}.old.{secrets.token_hex(4)}"
        if target.exists():
            target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except subprocess.CalledProcessError as exc:
        logger.error("replay of lecture %s failed: %s", lecture_id, exc.stderr.decode()[-2000:])
        shutil.rmtree(work, ignore_errors=True)
        raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    url = replay_playlist_url(lecture_id=lecture_id)
    base = settings.STREAM_HLS_BASE_URL.rstrip("/") + "/replays/"
    # the organiser's own replay URL stays; ours (or none) is set
    Lecture.objects.filter(pk=lecture_id, replay_url="").update(replay_url=url)
    Lecture.objects.filter(pk=lecture_id, replay_url__startswith=base).update(replay_url=url)
    logger.info("replay of lecture %s: %s recordings → %s", lecture_id, len(paths), url)
    return Replay(lecture_id, len(paths), url)
