"""Shared state in Redis: the provider token buckets and access-token cache.

All workers share one bucket per provider account (Celery's ``rate_limit`` is per worker).
Without ``NOTIFY_REDIS_URL`` (the embedded default) both fall back to this process.
If Redis is unreachable the bucket lets calls through at the local rate: PostgreSQL stays
the source of truth and Redis can restart mid-dispatch without losing anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings

from portal.process_state import process_state_reset

BUCKET_LUA = """
-- KEYS[1] bucket; ARGV: rate (tokens/s), burst, want, now (s, float)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local granted = 0
if tokens >= want then
  granted = want
  tokens = tokens - want
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
local wait = 0
if granted == 0 then wait = (want - tokens) / rate end
return {granted, tostring(wait)}
"""


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def client() -> redis.Redis | None:
    url: str = settings.NOTIFY_REDIS_URL
    return _client(url) if url else None


_local_lock = threading.Lock()
_local_buckets: dict[str, tuple[float, float]] = {}


def _local_take(key: str, rate: float, burst: float, want: int) -> tuple[bool, float]:
    with _local_lock:
        now = time.monotonic()
        tokens, ts = _local_buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - ts) * rate)
        if tokens >= want:
            _local_buckets[key] = (tokens - want, now)
            return True, 0.0
        _local_buckets[key] = (tokens, now)
        return False, (want - tokens) / rate


def quota_take(
    *, key: str, rate: float, burst: float | None = None, want: int = 1
) -> tuple[bool, float]:
    """Take ``want`` tokens from the bucket ``key``; returns (granted, seconds to wait)."""
    if rate <= 0:
        return True, 0.0
    burst = burst if burst is not None else max(1.0, rate)
    r = client()
    if r is None:
        return _local_take(key, rate, burst, want)
    try:
        result: Any = r.eval(BUCKET_LUA, 1, f"zx:bucket:{key}", rate, burst, want, time.time())
        granted, wait = result
    except redis.RedisError:
        return _local_take(key, rate, burst, want)
    return int(granted) > 0, float(wait)


_local_tokens: dict[str, tuple[str, float]] = {}


@process_state_reset
def redis_state_forget() -> None:
    """Forget the clients and the in-process fallbacks (tokens, buckets)."""
    _client.cache_clear()
    with _local_lock:
        _local_buckets.clear()
        _local_tokens.clear()


def token_get(*, key: str, fetch: Callable[[], tuple[str, int]]) -> str:
    """A cached access token shared by all workers; ``fetch`` returns (token, expires_in)."""
    r = client()
    cache_key = f"zx:token:{key}"
    if r is not None:
        try:
            cached = r.get(cache_key)
            if cached:
                return cached.decode() if isinstance(cached, bytes) else str(cached)
            # One worker refreshes; the others wait briefly for its result.
            if r.set(f"{cache_key}:lock", "1", nx=True, ex=15):
                try:
                    token, expires_in = fetch()
                    r.set(cache_key, token, ex=max(60, expires_in - 300))
                    return token
                finally:
                    r.delete(f"{cache_key}:lock")
            for _i in range(50):
                time.sleep(0.1)
                cached = r.get(cache_key)
                if cached:
                    return cached.decode() if isinstance(cached, bytes) else str(cached)
        except redis.RedisError:
            pass
    token_ts = _local_tokens.get(cache_key)
    if token_ts and token_ts[1] > time.time():
        return token_ts[0]
    token, expires_in = fetch()
    _local_tokens[cache_key] = (token, time.time() + max(60, expires_in - 300))
    return token


COMPARE_DELETE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def token_invalidate(*, key: str, token: str) -> None:
    """Drop the cached token, only if it is still the one that was rejected."""
    cache_key = f"zx:token:{key}"
    r = client()
    if r is not None:
        try:
            r.eval(COMPARE_DELETE_LUA, 1, cache_key, token)
        except redis.RedisError:
            pass
    local = _local_tokens.get(cache_key)
    if local and local[0] == token:
        _local_tokens.pop(cache_key, None)
