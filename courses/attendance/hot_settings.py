"""The settings the heartbeat path reads on every frame, read once per process.

Every ``settings.X`` goes through ``LazySettings.__getattribute__`` (a Python-level call);
the websocket heartbeat path read seven of them per frame (bench/README.md, heartbeat). The
snapshot is rebuilt after any ``setting_changed`` signal, which ``override_settings`` and
pytest-django's ``settings`` fixture send, so tests that change a setting still see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.test.signals import setting_changed

from portal.process_state import process_state_reset


@dataclass(frozen=True, slots=True)
class HotSettings:
    heartbeat_seconds: int  # ATTENDANCE_HEARTBEAT_SECONDS
    grace_seconds: int  # ATTENDANCE_GRACE_SECONDS
    flood_window_seconds: float  # LIVE_FLOOD_WINDOW_SECONDS
    flood_frames: int  # LIVE_FLOOD_FRAMES
    flood_frames_moderator: int  # LIVE_FLOOD_FRAMES_MODERATOR
    frame_max_bytes: int  # LIVE_FRAME_MAX_BYTES
    buffer_url: str  # ATTENDANCE_REDIS_URL
    buffer_prefix: str  # ATTENDANCE_REDIS_PREFIX


_current: HotSettings | None = None


def _load() -> HotSettings:
    return HotSettings(
        heartbeat_seconds=int(settings.ATTENDANCE_HEARTBEAT_SECONDS),
        grace_seconds=int(settings.ATTENDANCE_GRACE_SECONDS),
        flood_window_seconds=float(settings.LIVE_FLOOD_WINDOW_SECONDS),
        flood_frames=int(settings.LIVE_FLOOD_FRAMES),
        flood_frames_moderator=int(settings.LIVE_FLOOD_FRAMES_MODERATOR),
        frame_max_bytes=int(settings.LIVE_FRAME_MAX_BYTES),
        buffer_url=str(getattr(settings, "ATTENDANCE_REDIS_URL", "") or ""),
        buffer_prefix=str(getattr(settings, "ATTENDANCE_REDIS_PREFIX", "zhixing:att:")),
    )


def hot_settings() -> HotSettings:
    """The current snapshot (built on first use, and again after a setting changed)."""
    global _current
    current = _current
    if current is None:
        current = _current = _load()
    return current


@process_state_reset
def hot_settings_forget(**_kwargs: Any) -> None:
    """Rebuild the snapshot on next use (after a setting changed; between tests)."""
    global _current
    _current = None


setting_changed.connect(hot_settings_forget, dispatch_uid="courses.attendance.hot_settings")
