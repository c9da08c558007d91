"""``portal.process_state``: one registry of process caches, reset around every test."""

from __future__ import annotations

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
