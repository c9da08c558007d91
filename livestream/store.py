"""Shared live state: per-lecture ``seq``, the ring of recent events, presence, gates.

Two implementations behind one interface:

* ``RedisStore`` (when ``LIVE_REDIS_URL`` is set): everything is shared by all server
  processes. A broadcast is ONE Lua script call that increments the lecture's ``seq``,
  stores the event in the ring (a sorted set trimmed to ``LIVE_RING_SIZE``) and makes ONE
  ``PUBLISH`` to the lecture's channel, so ``seq`` order equals delivery order everywhere.
* ``MemoryStore`` (embedded default, one process): the same semantics under a lock; delivery
  goes straight to this process's hubs.

The published message is ``b"<audience> <seq>\\n<json>"`` with audience ``all``, ``mod`` or
``u:<user id>``; the hub routes on the header without parsing the JSON.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, cast

from django.conf import settings

# How an event takes part in the lecture's sequence.
SEQ_NEXT = "next"  # a broadcast event: gets the next seq and goes into the ring
SEQ_CURRENT = "current"  # a moderator/user event: carries the current seq, not in the ring
SEQ_NONE = "none"  # no seq field at all (viewers, question.rejected)

_PUBLISH_LUA = """
local seq = 0
local payload
local mode = ARGV[3]
if mode == "next" then
  seq = redis.call("INCR", KEYS[1])
  redis.call("EXPIRE", KEYS[1], ARGV[5])
  payload = '{"seq":' .. seq .. ',' .. ARGV[2]
  redis.call("ZADD", KEYS[2], seq, payload)
  redis.call("ZREMRANGEBYRANK", KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
  redis.call("EXPIRE", KEYS[2], ARGV[5])
elseif mode == "current" then
  seq = tonumber(redis.call("GET", KEYS[1]) or "0")
  payload = '{"seq":' .. seq .. ',' .. ARGV[2]
else
  payload = '{' .. ARGV[2]
end
redis.call("PUBLISH", ARGV[1], ARGV[6] .. " " .. seq .. "\\n" .. payload)
return seq
"""

KEY_TTL_SECONDS = 7 * 24 * 3600
# Viewers over time: one point per LIVE_SERIES_INTERVAL_SECONDS, the last SERIES_POINTS kept
# (at 30 s, eight hours).
SERIES_POINTS = 1000


def _body(payload_json: str) -> str:
    """The JSON object without its opening brace (the script prepends ``{"seq":N,``)."""
    if not payload_json.startswith("{") or payload_json == "{}":
        raise ValueError("an event is a non-empty JSON object")
    return payload_json[1:]


def envelope(audience: str, seq: int, payload: bytes) -> bytes:
    return b"%s %d\n%s" % (audience.encode(), seq, payload)


def envelope_parse(data: bytes) -> tuple[str, int, bytes]:
    head, _sep, payload = data.partition(b"\n")
    audience, _sep, seq = head.partition(b" ")
    return audience.decode(), int(seq or 0), payload


class Store(Protocol):
    def publish(self, *, lecture_id: int, audience: str, payload_json: str, mode: str) -> int: ...
    def seq_current(self, *, lecture_id: int) -> int: ...
    def events_since(self, *, lecture_id: int, last_seq: int) -> list[str] | None: ...
    def gate(self, *, key: str, seconds: float) -> bool: ...
    # dirty sets, flushed by the hubs' tick (kinds: "votes", "queue")
    def mark(self, *, kind: str, lecture_id: int, item_id: int) -> None: ...
    def take(self, *, kind: str, lecture_id: int) -> set[int]: ...
    def presence_set(
        self,
        *,
        lecture_id: int,
        process_id: str,
        count: int,
        user_ids: Iterable[int] = (),
        by_unit: Mapping[int, int] | None = None,
    ) -> None: ...
    def presence_total(self, *, lecture_id: int) -> int: ...
    def presence_by_unit(self, *, lecture_id: int) -> dict[int, int]: ...
    def series_add(self, *, lecture_id: int, at: float, value: int) -> None: ...
    def series_get(self, *, lecture_id: int) -> list[tuple[int, int]]: ...
    def status_swap(self, *, lecture_id: int, status: str) -> str | None: ...
    def channel(self, *, lecture_id: int) -> str: ...
    def revoke(self, *, user_ids: Iterable[int]) -> None: ...
    def revoked_since(self, *, since: float) -> set[int]: ...


# How long a revocation is kept: longer than any socket of the revoked session could live
# unnoticed (a hub checks every LIVE_VIEWERS_INTERVAL_SECONDS).
REVOKED_KEEP_SECONDS = 24 * 3600


class MemoryStore:
    """In-process state for the embedded default (one server process)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        # Hubs of this process that receive this store's deliveries (called from any thread).
        self.listeners: list[Callable[[int, bytes], None]] = []
        self._lock = threading.Lock()
        self._seq: dict[int, int] = {}
        self._ring: dict[int, deque[tuple[int, str]]] = {}
        self._gates: dict[str, float] = {}
        self._dirty: dict[tuple[str, int], set[int]] = {}
        self._presence: dict[int, dict[str, tuple[int, float]]] = {}
        self._by_unit: dict[int, dict[str, dict[int, int]]] = {}
        self._series: dict[int, deque[tuple[int, int]]] = {}
        self._status: dict[int, str] = {}
        self._revoked: dict[int, float] = {}  # user id → when their sessions were ended

    def channel(self, *, lecture_id: int) -> str:
        return f"{self.prefix}ev:{lecture_id}"

    def publish(self, *, lecture_id: int, audience: str, payload_json: str, mode: str) -> int:
        body = _body(payload_json)
        with self._lock:
            seq = self._seq.get(lecture_id, 0)
            if mode == SEQ_NEXT:
                seq += 1
                self._seq[lecture_id] = seq
                payload = f'{{"seq":{seq},{body}'
                ring = self._ring.setdefault(lecture_id, deque(maxlen=int(settings.LIVE_RING_SIZE)))
                ring.append((seq, payload))
            elif mode == SEQ_CURRENT:
                payload = f'{{"seq":{seq},{body}'
            else:
                payload = "{" + body
            data = envelope(audience, seq if mode != SEQ_NONE else 0, payload.encode())
            listeners = list(self.listeners)
        for listener in listeners:
            listener(lecture_id, data)
        return seq

    def seq_current(self, *, lecture_id: int) -> int:
        with self._lock:
            return self._seq.get(lecture_id, 0)

    def events_since(self, *, lecture_id: int, last_seq: int) -> list[str] | None:
        with self._lock:
            current = self._seq.get(lecture_id, 0)
            ring = list(self._ring.get(lecture_id, ()))
        return _since(current, [(s, p) for s, p in ring], last_seq)

    def gate(self, *, key: str, seconds: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._gates.get(key, 0.0) > now:
                return False
            self._gates[key] = now + seconds
            return True

    def mark(self, *, kind: str, lecture_id: int, item_id: int) -> None:
        with self._lock:
            self._dirty.setdefault((kind, lecture_id), set()).add(item_id)

    def take(self, *, kind: str, lecture_id: int) -> set[int]:
        with self._lock:
            return self._dirty.pop((kind, lecture_id), set())

    def presence_set(
        self,
        *,
        lecture_id: int,
        process_id: str,
        count: int,
        user_ids: Iterable[int] = (),
        by_unit: Mapping[int, int] | None = None,
    ) -> None:
        # one process: its count is already of distinct users (``user_ids`` not needed)
        with self._lock:
            self._presence.setdefault(lecture_id, {})[process_id] = (count, time.time())
            self._by_unit.setdefault(lecture_id, {})[process_id] = dict(by_unit or {})

    def presence_total(self, *, lecture_id: int) -> int:
        with self._lock:
            return sum(c for c, _t in self._presence.get(lecture_id, {}).values())

    def presence_by_unit(self, *, lecture_id: int) -> dict[int, int]:
        with self._lock:
            return _units_sum(self._by_unit.get(lecture_id, {}).values())

    def series_add(self, *, lecture_id: int, at: float, value: int) -> None:
        with self._lock:
            points = self._series.setdefault(lecture_id, deque(maxlen=SERIES_POINTS))
            points.append((int(at), value))

    def series_get(self, *, lecture_id: int) -> list[tuple[int, int]]:
        with self._lock:
            return list(self._series.get(lecture_id, ()))

    def status_swap(self, *, lecture_id: int, status: str) -> str | None:
        with self._lock:
            old = self._status.get(lecture_id)
            self._status[lecture_id] = status
            return old

    def revoke(self, *, user_ids: Iterable[int]) -> None:
        now = time.time()
        with self._lock:
            for user_id in user_ids:
                self._revoked[user_id] = now
            for uid in [u for u, at in self._revoked.items() if at < now - REVOKED_KEEP_SECONDS]:
                del self._revoked[uid]

    def revoked_since(self, *, since: float) -> set[int]:
        with self._lock:
            return {uid for uid, at in self._revoked.items() if at >= since}


def _units_sum(parts: Iterable[Mapping[int, int]]) -> dict[int, int]:
    total: dict[int, int] = {}
    for part in parts:
        for unit_id, count in part.items():
            total[unit_id] = total.get(unit_id, 0) + count
    return total


def _since(current: int, ring: list[tuple[int, str]], last_seq: int) -> list[str] | None:
    """Events after ``last_seq``, or None when the ring no longer holds all of them."""
    if last_seq > current or last_seq < 0:
        return None  # the client knows a seq we never issued (e.g. state was reset)
    if last_seq == current:
        return []
    missing = [(s, p) for s, p in ring if s > last_seq]
    missing.sort()
    if not missing or missing[0][0] != last_seq + 1:
        return None
    return [p for _s, p in missing]


class RedisStore:
    """Live state shared by every server process through Redis."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.url = url
        self.prefix = prefix
        # Explicit timeouts and pool size: redis-py's defaults changed between major
        # versions. Commands are short; never block forever.
        self.pool = redis.ConnectionPool.from_url(
            url,
            socket_timeout=float(settings.LIVE_REDIS_SOCKET_TIMEOUT),
            socket_connect_timeout=float(settings.LIVE_REDIS_SOCKET_TIMEOUT),
            socket_keepalive=True,
            health_check_interval=30,
            max_connections=int(settings.LIVE_REDIS_MAX_CONNECTIONS),
        )
        self.client = redis.Redis(connection_pool=self.pool)
        self._publish = self.client.register_script(_PUBLISH_LUA)

    def _k(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def channel(self, *, lecture_id: int) -> str:
        return self._k("ev", lecture_id)

    def publish(self, *, lecture_id: int, audience: str, payload_json: str, mode: str) -> int:
        result = self._publish(
            keys=[self._k("seq", lecture_id), self._k("ring", lecture_id)],
            args=[
                self.channel(lecture_id=lecture_id),
                _body(payload_json),
                mode,
                int(settings.LIVE_RING_SIZE),
                KEY_TTL_SECONDS,
                audience,
            ],
        )
        return int(result)

    def seq_current(self, *, lecture_id: int) -> int:
        raw: Any = self.client.get(self._k("seq", lecture_id))
        return int(raw or 0)

    def events_since(self, *, lecture_id: int, last_seq: int) -> list[str] | None:
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self._k("seq", lecture_id))
        pipe.zrangebyscore(self._k("ring", lecture_id), f"({last_seq}", "+inf", withscores=True)
        current_raw, rows = pipe.execute()
        ring = [(int(score), member.decode()) for member, score in rows]
        return _since(int(current_raw or 0), ring, last_seq)

    def gate(self, *, key: str, seconds: float) -> bool:
        return bool(self.client.set(self._k("gate", key), b"1", nx=True, px=int(seconds * 1000)))

    def mark(self, *, kind: str, lecture_id: int, item_id: int) -> None:
        key = self._k(kind, lecture_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(key, item_id)
        pipe.expire(key, 3600)
        pipe.execute()

    def take(self, *, kind: str, lecture_id: int) -> set[int]:
        key = self._k(kind, lecture_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.smembers(key)
        pipe.delete(key)
        members, _deleted = pipe.execute()
        return {int(m) for m in members}

    def _distinct_key(self, lecture_id: int, interval: int) -> str:
        return self._k("presence", lecture_id, "users", interval)

    def presence_set(
        self,
        *,
        lecture_id: int,
        process_id: str,
        count: int,
        user_ids: Iterable[int] = (),
        by_unit: Mapping[int, int] | None = None,
    ) -> None:
        """Store this process's count; its users also go into a HyperLogLog per interval
        (``presence_total`` counts a user present on several processes once), and its
        viewers per unit (``by_unit``: the dashboard's rows) beside the count."""
        key = self._k("presence", lecture_id)
        units_key = self._k("presence", lecture_id, "units")
        pipe = self.client.pipeline(transaction=False)
        if count:
            pipe.hset(key, process_id, f"{count}:{time.time():.0f}")
            units = json.dumps({str(u): n for u, n in (by_unit or {}).items()})
            pipe.hset(units_key, process_id, f"{time.time():.0f}:{units}")
        else:
            pipe.hdel(key, process_id)
            pipe.hdel(units_key, process_id)
        pipe.expire(key, 3600)
        pipe.expire(units_key, 3600)
        ids = list(user_ids)
        if ids:
            seconds = float(settings.LIVE_VIEWERS_INTERVAL_SECONDS)
            distinct = self._distinct_key(lecture_id, int(time.time() // seconds))
            pipe.pfadd(distinct, *ids)
            pipe.expire(distinct, math.ceil(3 * seconds) + 5)
        pipe.execute()

    def presence_total(self, *, lecture_id: int) -> int:
        """Viewers of the lecture on all processes: the sum of the processes' counts, or,
        when lower, the distinct users they stored in this and the previous interval
        (a user with tabs on two processes is one viewer; ±0.81% beyond a few thousand)."""
        total = self._presence_sum(lecture_id)
        if total:
            now = int(time.time() // float(settings.LIVE_VIEWERS_INTERVAL_SECONDS))
            keys = [self._distinct_key(lecture_id, now), self._distinct_key(lecture_id, now - 1)]
            distinct = int(cast(Any, self.client.pfcount(*keys)))
            if distinct:
                total = min(total, distinct)
        return total

    def presence_by_unit(self, *, lecture_id: int) -> dict[int, int]:
        """Viewers per unit, summed over the live processes (a user with tabs on two
        processes counts in each: the rows may add up to a little more than the total)."""
        stale_before = self._stale_before()
        parts = []
        rows: Any = self.client.hgetall(self._k("presence", lecture_id, "units"))
        for value in rows.values():
            stamp, _sep, units = value.decode().partition(":")
            if float(stamp or 0) >= stale_before:
                parts.append({int(u): int(n) for u, n in json.loads(units or "{}").items()})
        return _units_sum(parts)

    def series_add(self, *, lecture_id: int, at: float, value: int) -> None:
        key = self._k("series", lecture_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(key, f"{int(at)}:{value}")
        pipe.ltrim(key, -SERIES_POINTS, -1)
        pipe.expire(key, KEY_TTL_SECONDS)
        pipe.execute()

    def series_get(self, *, lecture_id: int) -> list[tuple[int, int]]:
        rows: Any = self.client.lrange(self._k("series", lecture_id), 0, -1)
        points = []
        for row in rows:
            at, _sep, value = row.decode().partition(":")
            points.append((int(at), int(value)))
        return points

    @staticmethod
    def _stale_before() -> float:
        return time.time() - 4 * float(settings.LIVE_VIEWERS_INTERVAL_SECONDS) - 5

    def _presence_sum(self, lecture_id: int) -> int:
        key = self._k("presence", lecture_id)
        stale_before = self._stale_before()
        total, stale = 0, []
        rows: Any = self.client.hgetall(key)
        for field, value in rows.items():
            count, _sep, stamp = value.decode().partition(":")
            if float(stamp or 0) < stale_before:
                stale.append(field)  # a process that died without saying goodbye
            else:
                total += int(count)
        if stale:
            self.client.hdel(key, *stale)
        return total

    def status_swap(self, *, lecture_id: int, status: str) -> str | None:
        old: Any = self.client.set(
            self._k("status", lecture_id), status, get=True, ex=KEY_TTL_SECONDS
        )
        return old.decode() if old is not None else None

    def revoke(self, *, user_ids: Iterable[int]) -> None:
        now = time.time()
        key = self._k("revoked", "users")
        members = {str(uid): now for uid in user_ids}
        if not members:
            return
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, members)
        pipe.zremrangebyscore(key, "-inf", now - REVOKED_KEEP_SECONDS)
        pipe.expire(key, REVOKED_KEEP_SECONDS)
        pipe.execute()

    def revoked_since(self, *, since: float) -> set[int]:
        rows: Any = self.client.zrangebyscore(self._k("revoked", "users"), since, "+inf")
        return {int(r) for r in rows}


_stores: dict[str, tuple[tuple[str, str], Any]] = {}
_store_lock = threading.Lock()


def store_get(namespace: str = "") -> Store:
    """The process's store of a namespace, rebuilt when the settings change (tests override
    them). The live rooms use the default namespace; another kind of room (the discussion
    spaces: ``"disc:"``) gets its own seq, ring and channels under the same prefix, so its
    room ids never meet a lecture's."""
    key = (str(settings.LIVE_REDIS_URL), str(settings.LIVE_REDIS_PREFIX) + namespace)
    with _store_lock:
        cached = _stores.get(namespace)
        if cached is None or cached[0] != key:
            store = RedisStore(key[0], key[1]) if key[0] else MemoryStore(key[1])
            cached = _stores[namespace] = (key, store)
        return cast(Store, cached[1])
