"""A registry of process-global state (caches, memoised settings, in-memory fallbacks).

A module that keeps state for the life of a process registers the function that forgets it
(``@process_state_reset``). ``process_state_reset_all`` forgets everything at once: the test
suite calls it around every test (``tests/conftest.py``), so no test module resets caches by
hand, and a cache added later is reset without anyone remembering to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Reset = TypeVar("Reset", bound=Callable[[], object])

_resets: dict[str, Callable[[], object]] = {}


def process_state_reset(reset: Reset) -> Reset:
    """Register ``reset`` (a no-argument function that forgets some process state)."""
    _resets[f"{reset.__module__}.{reset.__qualname__}"] = reset
    return reset


def process_state_reset_all() -> None:
    for reset in list(_resets.values()):
        reset()


def process_state_registered() -> list[str]:
    return sorted(_resets)
