"""Issue 4's heartbeat hot path: the frame fast path, the settings snapshot, the C packing
of the credit script call — each must behave exactly like the generic code it shortcuts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio.connection import Connection

from courses.attendance.buffer import _packing_connection_class
from courses.attendance.hot_settings import hot_settings
from livestream import protocol
from livestream.exceptions import LiveError, LiveErrorCode


def test_known_heartbeat_frames_parse_like_the_generic_path() -> None:
    assert len(protocol._HEARTBEATS) == 12
    for text, known in protocol._HEARTBEATS.items():
        frame = json.loads(text)
        assert set(frame) <= {"type", "playing", "replay"}
        assert known == protocol.Heartbeat(
            playing=frame["playing"], replay=bool(frame.get("replay"))
        )
        assert protocol.parse(text) is known
    # the player's own frame (static/js/livestream.js) is one of them
    assert '{"type":"heartbeat","playing":true,"replay":false}' in protocol._HEARTBEATS


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"heartbeat","playing":1}',
        '{"type":"heartbeat","playing":"true"}',
        '{"type":"heartbeat","playing":true,"replay":0}',
        '{"type":"heartbeat"}',
        '{"type": "heartbeat","playing":true',
    ],
)
def test_near_miss_heartbeat_frames_still_get_protocol_errors(text: str) -> None:
    with pytest.raises(LiveError) as err:
        protocol.parse(text)
    assert err.value.code == LiveErrorCode.INVALID


def test_other_spellings_take_the_generic_path() -> None:
    assert protocol.parse('{"replay":true,"type":"heartbeat","playing":true}') == (
        protocol.Heartbeat(playing=True, replay=True)
    )
    assert protocol.parse('{"type":"heartbeat","playing":true,"replay":null}') == (
        protocol.Heartbeat(playing=True, replay=False)
    )


def test_hot_settings_follow_setting_changes(settings: Any) -> None:
    settings.ATTENDANCE_HEARTBEAT_SECONDS = 7
    settings.LIVE_FLOOD_FRAMES = 3
    assert hot_settings().heartbeat_seconds == 7
    assert hot_settings().flood_frames == 3
    settings.ATTENDANCE_HEARTBEAT_SECONDS = 11
    assert hot_settings().heartbeat_seconds == 11


def test_hiredis_packing_matches_redis_py() -> None:
    packing = _packing_connection_class()
    assert packing is not None  # hiredis is a requirement
    args = ("EVALSHA", "f" * 40, 3, "k:1", "k:2", "pending", 12345, 30, "L", "3:4", "", "é")
    assert b"".join(packing().pack_command(*args)) == b"".join(Connection().pack_command(*args))
    assert b"".join(packing().pack_command("SCRIPT LOAD", "return 1")) == b"".join(
        Connection().pack_command("SCRIPT LOAD", "return 1")
    )
