"""``portal.process_state``: one registry of process caches, reset around every test."""

from __future__ import annotations

import importlib

from portal.process_state import (
    process_state_registered,
    process_state_reset,
    process_state_reset_all,
)

_memo: dict[str, int] = {}


@process_state_reset
def _memo_forget() -> None:
    _memo.clear()


def test_registered_resets_run_together() -> None:
    _memo["x"] = 1
    process_state_reset_all()
    assert _memo == {}
    assert f"{__name__}._memo_forget" in process_state_registered()


def test_each_test_starts_without_state_left_by_another() -> None:
    _memo["leak"] = 1  # the autouse fixture forgets it after this test


def test_the_leak_above_was_forgotten() -> None:
    assert "leak" not in _memo


def test_the_process_caches_are_registered() -> None:
    """Each cache a module keeps for the life of a process is forgotten around every test."""
    expected = {
        "courses.attendance.attention.attention_memory_reset",
        "courses.attendance.buffer.buffer_reset",
        "courses.attendance.credit.lecture_cache_clear",
        "courses.attendance.end_flush.attendance_end_flush_reset",
        "courses.attendance.hot_settings.hot_settings_forget",
        "courses.summaries.totals.headcounts_forget",
        "livestream.sensitive.sensitive_words_forget",
        "notifications.redis_state.redis_state_forget",
    }
    for name in expected:
        importlib.import_module(name.rsplit(".", 1)[0])
    assert expected <= set(process_state_registered())
