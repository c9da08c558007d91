"""The shared Redis token bucket and access-token cache."""

from __future__ import annotations

import threading
import time

import pytest
from pytest_django.fixtures import Settings

from notifications import redis_state

pytestmark = pytest.mark.redis


def test_bucket_is_shared_and_limits_rate(redis_url: str, settings: Settings) -> None:
    settings.NOTIFY_REDIS_URL = redis_url
    granted = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal granted
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            ok, wait = redis_state.quota_take(key="sms:test", rate=20, burst=5)
            if ok:
                with lock:
                    granted += 1
            else:
                time.sleep(min(wait, 0.05))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 5 burst + 20/s for ~1 s, whatever the number of workers
    assert 18 <= granted <= 28


def test_access_token_fetched_once_and_invalidated_by_value(
    redis_url: str, settings: Settings
) -> None:
    settings.NOTIFY_REDIS_URL = redis_url
    calls = []

    def fetch() -> tuple[str, int]:
        calls.append(1)
        return f"tok{len(calls)}", 7200

    assert redis_state.token_get(key="wx:a", fetch=fetch) == "tok1"
    assert redis_state.token_get(key="wx:a", fetch=fetch) == "tok1"
    redis_state.token_invalidate(key="wx:a", token="stale-other")  # someone else's old token
    assert redis_state.token_get(key="wx:a", fetch=fetch) == "tok1"
    redis_state.token_invalidate(key="wx:a", token="tok1")
    assert redis_state.token_get(key="wx:a", fetch=fetch) == "tok2"
    assert len(calls) == 2


def test_bucket_survives_redis_outage(settings: Settings) -> None:
    settings.NOTIFY_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    ok, _wait = redis_state.quota_take(key="sms:down", rate=100, burst=10)
    assert ok
