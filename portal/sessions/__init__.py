"""Sessions in Redis with the database as the source of truth (``SESSION_ENGINE`` when
``REDIS_URL`` is set): a signed-in request reads its session from the cache, no query; a
Redis restart or blip costs a query per request, never a failed sign-in or sign-out (the
default cache fails soft: portal/cache.py).

A sign-out made while Redis was unreachable deletes the row but cannot delete the cached
copy, which would be valid again when Redis returns; so cached copies live at most
``SESSION_CACHE_SECONDS`` (then the next request reloads the row, which is gone).

Both engines (this one and ``portal.sessions.db`` without Redis) apply the session rules by
role of ``portal.sessions.policy``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.contrib.sessions.backends.db import SessionStore as DBStore

from portal.sessions.policy import RolePolicyMixin


class SessionStore(RolePolicyMixin, CachedDBStore):
    cache_key_prefix = "zx.session."
    # set by Django's base classes (not in django-stubs); annotations only
    _cache: Any
    _session: Any

    def get_cache_seconds(self, age: int) -> int:
        return max(1, min(age, int(settings.SESSION_CACHE_SECONDS)))

    def save(self, must_create: bool = False) -> None:
        DBStore.save(self, must_create)
        age = self.get_cache_seconds(self.get_expiry_age())
        self._cache.set(self.cache_key, self._session, age)

    async def asave(self, must_create: bool = False) -> None:
        await DBStore.asave(self, must_create)
        age = self.get_cache_seconds(await self.aget_expiry_age())
        await self._cache.aset(await self.acache_key(), self._session, age)
