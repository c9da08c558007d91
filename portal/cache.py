"""The default cache on Redis, failing soft: when Redis is unreachable (a restart, a blip)
a cache operation logs a warning and answers as an empty cache would, instead of raising
into the request. Everything that uses the default cache treats it as a cache: sessions
fall back to their database rows (portal/sessions.py), memoised figures are recomputed,
and the sign-in rate limits (allauth, the admin login) fail open for the outage — a
government portal that nobody can sign in to while Redis restarts is the worse failure.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _soft(name: str, fallback: Any) -> Any:
    def method(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(super(ResilientRedisCache, self), name)(*args, **kwargs)
        except UNREACHABLE as exc:
            logger.warning("cache unreachable (%s: %s)", name, type(exc).__name__)
            return fallback(*args, **kwargs) if callable(fallback) else fallback

    method.__name__ = name
    return method


def _default(key: Any, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


class ResilientRedisCache(RedisCache):
    get = _soft("get", _default)
    set = _soft("set", None)
    add = _soft("add", True)  # as if added: a lock or a first count proceeds
    touch = _soft("touch", False)
    delete = _soft("delete", False)
    get_many = _soft("get_many", {})
    has_key = _soft("has_key", False)
    incr = _soft("incr", 1)
    set_many = _soft("set_many", lambda data, *a, **k: list(data))
    delete_many = _soft("delete_many", None)
    clear = _soft("clear", False)
