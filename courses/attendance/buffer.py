"""The heartbeat buffer: credit lands here (no SQL per heartbeat) until a flush moves it.

Two implementations behind one interface:

* ``RedisBuffer`` (``ATTENDANCE_REDIS_URL`` set; production): shared by every server
  process, durable with Redis AOF. A heartbeat is ONE Lua script call. The websocket path
  (``credit_async``) awaits it on an asyncio Redis client with no thread hop; heartbeats
  that arrive together share one script call (``_CreditBatcher``).
* ``MemoryBuffer`` (embedded default, one process): the same semantics under a lock.

Per (lecture, user, mode) the buffer remembers the last credited time window. Windows come
from the server clock only, so a heartbeat can only ever name the current window: a window
is credited when it is newer than the last one credited, which makes extra tabs, devices,
resent or captured frames earn nothing (the compare-and-set is atomic in Redis).

Credit waits in the *pending* hash: field ``<lecture>:<user>``, value
``"<live s>,<replay s>,<first seen>,<last seen>"`` (epoch seconds; one field per user keeps a
200,000-viewer flush to one short HSCAN). A flush first turns *pending* into a
*flushing* hash with a flush id (one atomic RENAME), writes it to the database, and deletes
it only after the commit. A flush that dies is resumed with the same id, and the database
skips rows already stamped with that id, so a re-run never counts twice.

The cumulative total per (lecture, user) (``totals`` hash, seconds) answers the heartbeat
acknowledgement without SQL; it is seeded once from the database when missing.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from courses.attendance.hot_settings import hot_settings
from portal.process_state import process_state_reset

LIVE = "L"
REPLAY = "R"
# How long the cumulative total of an idle (lecture, user) is kept (re-seeded from SQL after).
TOTALS_TTL_SECONDS = 7 * 24 * 3600
FLUSH_LOCK_SECONDS = 600

# At most this many heartbeats per batched script call (a larger backlog goes in the next).
CREDIT_BATCH_MAX = 500

Seed = Callable[[], tuple[int, int]]
AsyncSeed = Callable[[], Awaitable[tuple[int, int]]]


@dataclass
class Entry:
    """Buffered credit of one (lecture, user)."""

    live: int = 0
    replay: int = 0
    first: int | None = None  # epoch seconds
    last: int | None = None


Entries = dict[tuple[int, int], Entry]


@dataclass(frozen=True)
class Credit:
    """What one heartbeat asks of the buffer: ``seconds`` for ``window`` in ``mode`` (None:
    credit nothing, only read the totals)."""

    lecture_id: int
    user_id: int
    mode: str | None
    window: int
    seconds: int
    now_epoch: int


def entry_parse(name: str, value: str) -> tuple[tuple[int, int], Entry]:
    """One buffer field ``<lecture>:<user>`` = ``"live,replay,first,last"``."""
    lecture_s, _sep, user_s = name.partition(":")
    live, replay, first, last = value.split(",")
    return (int(lecture_s), int(user_s)), Entry(int(live), int(replay), int(first), int(last))


def entry_pack(entry: Entry) -> str:
    return f"{entry.live},{entry.replay},{entry.first},{entry.last}"


class AttendanceBuffer(Protocol):
    def credit(self, credit: Credit, *, seed: Seed) -> tuple[int, int]:
        """Credit ``credit`` unless its window (or a later one) was already credited;
        return the (live, replay) totals."""
        ...

    async def credit_async(self, credit: Credit, *, seed: AsyncSeed) -> tuple[int, int]:
        """``credit`` for the event loop: returns once the credit is in the buffer, without
        blocking the loop (``seed`` is awaited only when the total is not cached)."""
        ...

    def flush_begin(self) -> str | None:
        """The id of the batch to write (a dead flush's batch first); None when empty."""
        ...

    def flush_read(self, flush_id: str) -> Entries: ...

    def flush_end(self, flush_id: str) -> None:
        """Forget the batch ``flush_id`` (call only after the database commit)."""
        ...

    def flush_lock(self) -> Any:
        """A context manager yielding True when this caller may flush now."""
        ...

    def pending_count(self) -> int: ...


# ---------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------

_CREDIT_LUA = """
-- KEYS: 1 last-window key, 2 totals hash, 3 pending hash
-- ARGV: 1 window (-1: no credit), 2 seconds, 3 mode L/R, 4 pending field "<l>:<u>",
--       5 now epoch, 6 last-window ttl, 7 totals ttl, 8 seed live ("" = none), 9 seed replay
if redis.call("EXISTS", KEYS[2]) == 0 then
  if ARGV[8] == "" then return {-1, -1} end
  redis.call("HSET", KEYS[2], "L", ARGV[8], "R", ARGV[9])
end
local w = tonumber(ARGV[1])
if w >= 0 then
  local last = tonumber(redis.call("GET", KEYS[1]) or "-1")
  if w > last then
    redis.call("SET", KEYS[1], w, "EX", ARGV[6])
    local live, replay, first = 0, 0, ARGV[5]
    local packed = redis.call("HGET", KEYS[3], ARGV[4])
    if packed then
      local a, b, c = string.match(packed, "^(%d+),(%d+),(%d+),")
      live, replay, first = tonumber(a), tonumber(b), c
    end
    if ARGV[3] == "L" then
      live = live + tonumber(ARGV[2])
    else
      replay = replay + tonumber(ARGV[2])
    end
    redis.call("HSET", KEYS[3], ARGV[4], live .. "," .. replay .. "," .. first .. "," .. ARGV[5])
    redis.call("HINCRBY", KEYS[2], ARGV[3], ARGV[2])
  end
end
redis.call("EXPIRE", KEYS[2], ARGV[7])
local t = redis.call("HMGET", KEYS[2], "L", "R")
return {tonumber(t[1]), tonumber(t[2])}
"""

_BEGIN_LUA = """
-- KEYS: 1 pending, 2 flushing, 3 flushing id.  ARGV: 1 new id
local current = redis.call("GET", KEYS[3])
if current and redis.call("EXISTS", KEYS[2]) == 1 then return current end
if redis.call("EXISTS", KEYS[1]) == 0 then
  redis.call("DEL", KEYS[3])
  return false
end
redis.call("RENAME", KEYS[1], KEYS[2])
redis.call("SET", KEYS[3], ARGV[1])
return ARGV[1]
"""

_END_LUA = """
-- KEYS: 1 flushing, 2 flushing id.  ARGV: 1 id
if redis.call("GET", KEYS[2]) == ARGV[1] then
  redis.call("DEL", KEYS[1], KEYS[2])
  return 1
end
return 0
"""

_UNLOCK_LUA = """
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
"""


class RedisBuffer:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=5.0, decode_responses=True)
        self.prefix = prefix
        self.pending_key = f"{prefix}pending"
        self.flushing_key = f"{prefix}flushing"
        self.flushing_id_key = f"{prefix}flushing:id"
        self.lock_key = f"{prefix}flush:lock"
        self._credit = self.client.register_script(_CREDIT_LUA)
        self._begin = self.client.register_script(_BEGIN_LUA)
        self._end = self.client.register_script(_END_LUA)
        self._unlock = self.client.register_script(_UNLOCK_LUA)
        self._batcher: _CreditBatcher | None = None

    def _credit_call(self, credit: Credit) -> tuple[list[str], list[Any]]:
        """The keys and arguments of one ``_CREDIT_LUA`` call (seed fields left empty)."""
        c = credit
        keys = [
            f"{self.prefix}last:{c.lecture_id}:{c.user_id}:{c.mode or LIVE}",
            f"{self.prefix}total:{c.lecture_id}:{c.user_id}",
            self.pending_key,
        ]
        args: list[Any] = [
            c.window if c.mode else -1,
            c.seconds,
            c.mode or LIVE,
            f"{c.lecture_id}:{c.user_id}",
            c.now_epoch,
            max(2 * c.seconds, 120),
            TOTALS_TTL_SECONDS,
            "",
            "",
        ]
        return keys, args

    def credit(self, credit: Credit, *, seed: Seed) -> tuple[int, int]:
        keys, args = self._credit_call(credit)
        live, replay = self._credit(keys=keys, args=args)
        if int(live) < 0:  # no cumulative total cached: seed it from the database
            args[7], args[8] = seed()
            live, replay = self._credit(keys=keys, args=args)
        return int(live), int(replay)

    async def credit_async(self, credit: Credit, *, seed: AsyncSeed) -> tuple[int, int]:
        keys, args = self._credit_call(credit)
        batcher = self._batcher_for_loop()
        live, replay = await batcher.submit(keys, args)
        if live < 0:  # no cumulative total cached: seed it from the database
            args[7], args[8] = await seed()
            live, replay = await batcher.call(keys, args)
        return live, replay

    def _batcher_for_loop(self) -> _CreditBatcher:
        loop = asyncio.get_running_loop()
        batcher = self._batcher
        if batcher is None or batcher.loop is not loop:
            # one per event loop (= per server process; tests run a loop per test)
            batcher = self._batcher = _CreditBatcher(self.url, loop)
        return batcher

    def flush_begin(self) -> str | None:
        keys = [self.pending_key, self.flushing_key, self.flushing_id_key]
        flush_id = self._begin(keys=keys, args=[uuid.uuid4().hex])
        return str(flush_id) if flush_id else None

    def flush_read(self, flush_id: str) -> Entries:
        entries: Entries = {}
        for name, value in self.client.hscan_iter(self.flushing_key, count=20_000):
            key, entry = entry_parse(name, value)
            entries[key] = entry
        return entries

    def flush_end(self, flush_id: str) -> None:
        self._end(keys=[self.flushing_key, self.flushing_id_key], args=[flush_id])

    @contextmanager
    def flush_lock(self) -> Iterator[bool]:
        token = uuid.uuid4().hex
        got = bool(self.client.set(self.lock_key, token, nx=True, ex=FLUSH_LOCK_SECONDS))
        try:
            yield got
        finally:
            if got:
                self._unlock(keys=[self.lock_key], args=[token])

    def pending_count(self) -> int:
        pending: Any = self.client.hlen(self.pending_key)
        flushing: Any = self.client.hlen(self.flushing_key)
        return int(pending) + int(flushing)


# The same credit logic for many heartbeats in ONE script call: ``_CREDIT_LUA`` becomes a
# local function (its KEYS/ARGV are parameters), applied to each call's 3 keys and 9
# arguments in turn. The answer is one string "live,replay live,replay ..." (one bulk reply
# is far cheaper for the client to read than an array per call).
_CREDIT_BATCH_LUA = (
    "local function credit(KEYS, ARGV)\n"
    + _CREDIT_LUA
    + """end
local out = {}
for i = 0, #KEYS / 3 - 1 do
  local a = {}
  for j = 1, 9 do a[j] = ARGV[9 * i + j] end
  local t = credit({KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]}, a)
  out[i + 1] = t[1] .. "," .. t[2]
end
return table.concat(out, " ")
"""
)


def _packing_connection_class() -> Any:
    """An asyncio Redis connection that packs commands with ``hiredis`` (C) when it is
    installed: redis-py's asyncio client packs in Python (~6 µs per heartbeat of a
    500-heartbeat script call, 12 arguments each, against ~1 µs). None: redis-py's own."""
    try:
        import hiredis
    except ImportError:  # pragma: no cover - hiredis is in requirements.txt
        return None
    import redis.asyncio as aioredis

    class HiredisPackingConnection(aioredis.Connection):
        def pack_command(self, *args: Any) -> list[bytes]:
            # as redis-py's HiredisRespSerializer: "SCRIPT LOAD" is two words
            if isinstance(args[0], str):
                args = (*args[0].encode().split(), *args[1:])
            try:
                return [hiredis.pack_command(args)]
            except TypeError as exc:
                from redis.exceptions import DataError

                raise DataError(str(exc)) from exc

    return HiredisPackingConnection


class _CreditBatcher:
    """The credit calls of one event loop, sent together on an asyncio Redis client.

    A call waits in ``queue``; one sender task sends everything queued as ONE script call
    (``_CREDIT_BATCH_LUA``), resolves each call with its own result (so each heartbeat is
    acknowledged only after Redis ran its credit), then sends what queued up meanwhile.
    Under load the round trip in flight is the batching window; an idle loop sends at once.
    """

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop) -> None:
        import redis.asyncio as aioredis

        self.loop = loop
        packing = _packing_connection_class()
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=5.0,
            decode_responses=True,
            max_connections=8,
            **({"connection_class": packing} if packing is not None else {}),
        )
        self.script = self.client.register_script(_CREDIT_BATCH_LUA)
        self.queue: list[tuple[list[str], list[Any], asyncio.Future[tuple[int, int]]]] = []
        self.sender: asyncio.Task[None] | None = None
        self.batches = 0  # statistics (tests, benchmarks)

    async def call(self, keys: list[str], args: list[Any]) -> tuple[int, int]:
        return await self.submit(keys, args)

    def submit(self, keys: list[str], args: list[Any]) -> asyncio.Future[tuple[int, int]]:
        """Queue one credit; the future resolves with its (live, replay) totals (``call``
        without a coroutine of its own, for the hot path)."""
        future: asyncio.Future[tuple[int, int]] = self.loop.create_future()
        self.queue.append((keys, args, future))
        if self.sender is None:
            self.sender = self.loop.create_task(self._send_all())
        return future

    async def _send_all(self) -> None:
        try:
            while self.queue:
                batch = self.queue[:CREDIT_BATCH_MAX]
                del self.queue[:CREDIT_BATCH_MAX]
                try:
                    results = await self._execute([(k, a) for k, a, _f in batch])
                except Exception as exc:  # e.g. Redis down: every call of the batch fails
                    for _keys, _args, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_keys, _args, future), result in zip(batch, results, strict=True):
                    if not future.done():  # done: the caller went away
                        future.set_result(result)
        finally:
            self.sender = None

    async def _execute(self, calls: list[tuple[list[str], list[Any]]]) -> list[tuple[int, int]]:
        keys = [key for call_keys, _args in calls for key in call_keys]
        args = [arg for _keys, call_args in calls for arg in call_args]
        self.batches += 1
        reply = await self.script(keys=keys, args=args)  # EVALSHA (loads it if missing)
        totals = []
        for pair in str(reply).split(" "):
            live, _comma, replay = pair.partition(",")
            totals.append((int(live), int(replay)))
        return totals

    async def aclose(self) -> None:
        await self.client.aclose()


# ---------------------------------------------------------------------------------------
# In-process (embedded default)
# ---------------------------------------------------------------------------------------


@dataclass
class MemoryBuffer:
    last: dict[tuple[int, int, str], int] = field(default_factory=dict)
    totals: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    pending: dict[tuple[int, int], Entry] = field(default_factory=dict)
    flushing: dict[tuple[int, int], Entry] | None = None
    flushing_id: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    flushing_lock: threading.Lock = field(default_factory=threading.Lock)

    def credit(self, credit: Credit, *, seed: Seed) -> tuple[int, int]:
        key = (credit.lecture_id, credit.user_id)
        seeded = seed() if key not in self.totals else None  # SQL unlocked
        return self._apply(credit, seeded)

    async def credit_async(self, credit: Credit, *, seed: AsyncSeed) -> tuple[int, int]:
        key = (credit.lecture_id, credit.user_id)
        seeded = await seed() if key not in self.totals else None
        # a few dict operations under a lock that is never held across I/O
        return self._apply(credit, seeded)

    def _apply(self, credit: Credit, seeded: tuple[int, int] | None) -> tuple[int, int]:
        lecture_id, user_id, mode = credit.lecture_id, credit.user_id, credit.mode
        window, seconds, now_epoch = credit.window, credit.seconds, credit.now_epoch
        key = (lecture_id, user_id)
        with self.lock:
            total = self.totals.get(key)
            if total is None:
                assert seeded is not None  # noqa: S101 (first call for this key)
                total = self.totals[key] = [seeded[0], seeded[1]]
            if mode is not None and window > self.last.get((lecture_id, user_id, mode), -1):
                self.last[(lecture_id, user_id, mode)] = window
                entry = self.pending.setdefault(key, Entry(first=now_epoch))
                if mode == LIVE:
                    entry.live += seconds
                else:
                    entry.replay += seconds
                entry.last = now_epoch
                total[0 if mode == LIVE else 1] += seconds
            return total[0], total[1]

    def flush_begin(self) -> str | None:
        with self.lock:
            if self.flushing is not None and self.flushing_id is not None:
                return self.flushing_id
            if not self.pending:
                return None
            self.flushing, self.pending = self.pending, {}
            self.flushing_id = uuid.uuid4().hex
            return self.flushing_id

    def flush_read(self, flush_id: str) -> Entries:
        with self.lock:
            if flush_id != self.flushing_id or self.flushing is None:
                return {}
            return {key: replace(entry) for key, entry in self.flushing.items()}

    def flush_end(self, flush_id: str) -> None:
        with self.lock:
            if self.flushing_id == flush_id:
                self.flushing, self.flushing_id = None, None

    @contextmanager
    def flush_lock(self) -> Iterator[bool]:
        got = self.flushing_lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                self.flushing_lock.release()

    def pending_count(self) -> int:
        with self.lock:
            return len(self.pending) + len(self.flushing or {})


_buffers: dict[tuple[str, str], AttendanceBuffer] = {}
_buffers_lock = threading.Lock()


def buffer_get() -> AttendanceBuffer:
    """The buffer for the current settings (one per process and configuration)."""
    hot = hot_settings()  # ATTENDANCE_REDIS_URL / _PREFIX without a settings look-up each
    url, prefix = hot.buffer_url, hot.buffer_prefix
    key = (url, prefix)
    buffer = _buffers.get(key)
    if buffer is None:
        with _buffers_lock:
            buffer = _buffers.get(key)
            if buffer is None:
                buffer = RedisBuffer(url, prefix) if url else MemoryBuffer()
                _buffers[key] = buffer
    return buffer


@process_state_reset
def buffer_reset() -> None:
    """Forget every buffer of this process (tests)."""
    with _buffers_lock:
        _buffers.clear()
