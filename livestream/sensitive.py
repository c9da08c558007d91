"""The sensitive-word list (a plain text file) that flags questions for moderators."""

from __future__ import annotations

import os
import threading

from django.conf import settings

from portal.process_state import process_state_reset

_lock = threading.Lock()
_cache: dict[str, tuple[float, tuple[str, ...]]] = {}


@process_state_reset
def sensitive_words_forget() -> None:
    with _lock:
        _cache.clear()


def _normalise(text: str) -> str:
    return "".join(text.split()).casefold()


def sensitive_words(*, path: str | None = None) -> tuple[str, ...]:
    """The words of the configured list; re-read when the file changes."""
    path = path or str(settings.LIVE_SENSITIVE_WORDS_FILE)
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return ()
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        with open(path, encoding="utf-8") as fh:
            words = tuple(
                w
                for w in (_normalise(line) for line in fh if not line.lstrip().startswith("#"))
                if w
            )
        _cache[path] = (mtime, words)
        return words


def text_is_sensitive(text: str) -> bool:
    normalised = _normalise(text)
    return any(word in normalised for word in sensitive_words())
