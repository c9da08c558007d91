"""The demo's sliding-window live HLS playlist over the committed sample segments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse

from demo import hls as demo_hls

HLS_DIR = Path(settings.BASE_DIR) / "static" / "demo" / "hls"
# A wall-clock instant that is a whole number of loops: 1_750_000_008 / 2 = 6 × 145_833_334.
LOOP_START = 1_750_000_008


@dataclass
class Entry:
    number: int  # media sequence number
    discontinuity_sequence: int
    uri: str
    duration: float


def parse(text: str) -> tuple[dict[str, str], list[Entry]]:
    lines = text.strip().splitlines()
    assert lines[0] == "#EXTM3U"
    tags: dict[str, str] = {}
    entries: list[Entry] = []
    number = dsn = 0
    duration = 0.0
    for line in lines[1:]:
        if line == "#EXT-X-DISCONTINUITY":
            dsn += 1
        elif line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].rstrip(","))
        elif line.startswith("#"):
            name, _, value = line.partition(":")
            tags[name] = value
            if name == "#EXT-X-MEDIA-SEQUENCE":
                number = int(value)
            elif name == "#EXT-X-DISCONTINUITY-SEQUENCE":
                dsn = int(value)
        else:
            entries.append(Entry(number, dsn, line, duration))
            number += 1
    return tags, entries


def get_playlist(client: Client) -> str:
    response = client.get(reverse("demo:live_playlist"))
    assert response.status_code == 200
    return response.content.decode()


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_live_playlist_is_a_live_hls_playlist(client: Client) -> None:
    url = reverse("demo:live_playlist")
    assert url == "/demo/hls/live.m3u8"
    with time_machine.travel(at(LOOP_START + 30.5), tick=False):
        response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    assert response["Cache-Control"] == "no-cache"
    text = response.content.decode()
    tags, entries = parse(text)
    assert "#EXT-X-ENDLIST" not in text
    assert "#EXT-X-PLAYLIST-TYPE" not in tags  # neither VOD nor EVENT: a live window
    assert tags["#EXT-X-VERSION"] == "3"
    assert tags["#EXT-X-TARGETDURATION"] == "2"
    assert len(entries) == demo_hls.WINDOW
    assert all(e.duration == 2.0 for e in entries)
    for entry in entries:
        match = re.fullmatch(r"/static/demo/hls/seg(\d)\.ts", entry.uri)
        assert match, entry.uri
        assert (HLS_DIR / f"seg{match[1]}.ts").is_file()
        assert int(match[1]) == entry.number % demo_hls.SEGMENT_COUNT


def test_media_sequence_follows_the_wall_clock(client: Client) -> None:
    with time_machine.travel(at(LOOP_START + 100), tick=False) as clock:
        tags, entries = parse(get_playlist(client))
        first = int(tags["#EXT-X-MEDIA-SEQUENCE"])
        # The window ends with the last segment completed by now.
        assert first == (LOOP_START + 100) // 2 - demo_hls.WINDOW
        assert entries[-1].number == (LOOP_START + 100) // 2 - 1

        clock.shift(1.5)  # still inside the same 2-second segment
        assert parse(get_playlist(client))[0]["#EXT-X-MEDIA-SEQUENCE"] == str(first)

        clock.shift(0.5)  # one segment later
        tags, later = parse(get_playlist(client))
        assert int(tags["#EXT-X-MEDIA-SEQUENCE"]) == first + 1
        assert [e.uri for e in later[:-1]] == [e.uri for e in entries[1:]]

        clock.shift(60)
        assert int(parse(get_playlist(client))[0]["#EXT-X-MEDIA-SEQUENCE"]) == first + 31


def test_loop_wrap_is_marked_as_a_discontinuity(client: Client) -> None:
    # Two segments after the loop restarts: … seg4, seg5, | seg0, seg1.
    with time_machine.travel(at(LOOP_START + 2 * 2 + 0.1), tick=False):
        text = get_playlist(client)
    _tags, entries = parse(text)
    assert [e.uri.rsplit("/", 1)[1] for e in entries] == [
        "seg4.ts",
        "seg5.ts",
        "seg0.ts",
        "seg1.ts",
    ]
    lines = text.splitlines()
    wrap = lines.index("#EXT-X-DISCONTINUITY")
    assert lines[wrap + 1].startswith("#EXTINF:")
    assert lines[wrap + 2].endswith("/seg0.ts")
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert entries[2].discontinuity_sequence == entries[1].discontinuity_sequence + 1


def test_discontinuity_numbers_agree_across_reloads(client: Client) -> None:
    """A segment keeps its discontinuity sequence number while it slides through the window
    (players use it to line up timestamps), also after its wrap tag has left the window."""
    seen: dict[int, tuple[int, str]] = {}
    with time_machine.travel(at(LOOP_START), tick=False) as clock:
        for _ in range(3 * demo_hls.SEGMENT_COUNT):
            tags, entries = parse(get_playlist(client))
            assert not tags["#EXT-X-DISCONTINUITY-SEQUENCE"].startswith("-")
            for entry in entries:
                assert seen.setdefault(entry.number, (entry.discontinuity_sequence, entry.uri)) == (
                    entry.discontinuity_sequence,
                    entry.uri,
                )
            clock.shift(demo_hls.SEGMENT_SECONDS)
    assert len(seen) == 3 * demo_hls.SEGMENT_COUNT + demo_hls.WINDOW - 1


def test_live_playlist_accepts_only_safe_methods(client: Client) -> None:
    url = reverse("demo:live_playlist")
    assert client.head(url).status_code == 200
    assert client.post(url).status_code == 405


@pytest.mark.parametrize("name", ["vod.m3u8", "README.md"])
def test_sample_files_are_committed(name: str) -> None:
    assert (HLS_DIR / name).is_file()


def test_committed_sample_matches_the_live_playlist_constants() -> None:
    text = (HLS_DIR / "vod.m3u8").read_text()
    tags, entries = parse(text)
    assert "#EXT-X-ENDLIST" in text
    assert tags["#EXT-X-PLAYLIST-TYPE"] == "VOD"
    assert [e.uri for e in entries] == [f"seg{i}.ts" for i in range(demo_hls.SEGMENT_COUNT)]
    assert all(e.duration == demo_hls.SEGMENT_SECONDS for e in entries)
    segments = [HLS_DIR / e.uri for e in entries]
    assert all(s.read_bytes()[:1] == b"\x47" for s in segments)  # MPEG-TS sync byte
    assert sum(s.stat().st_size for s in segments) < 1_000_000
    assert "ffmpeg" in (HLS_DIR / "README.md").read_text()
