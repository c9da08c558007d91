"""The per-process fan-out hub (docs/live-protocol.md).

One hub per event loop (= per daphne process). It holds ONE Redis pub/sub connection,
subscribed to the channels of the lectures that have sockets in this process (or, in the
embedded default, listens to the in-process ``MemoryStore``). A broadcast is one publish;
here its payload is framed once and written to every local socket of the lecture.

* Coalescing: messages that arrive together (one read from Redis, a burst) are delivered
  in one pass scheduled with ``call_soon``: one write per socket per pass.
* Bounded buffers: a socket whose unsent bytes exceed LIVE_SOCKET_BUFFER_BYTES (or, on the
  ASGI path, whose queue exceeds ``ASGI_QUEUE_MAX`` messages) is closed with 4408 ("too
  slow, resync"); the other sockets never wait for it.
* Snapshots: a socket being (re)synchronised is "held": events for it are kept until its
  ``state`` (or replay) is sent, then those already covered by it are dropped.
* Presence and status: every LIVE_VIEWERS_INTERVAL_SECONDS the hub stores its local viewer
  counts (and, on Redis, adds its users to the lecture's HyperLogLog, so one user on two
  processes counts once); one process per lecture and interval (a Redis gate) sends
  ``viewers`` and, when the lecture's status changed, ``lecture.status``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import weakref
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any, NamedTuple

from django.conf import settings
from django.db import close_old_connections, connection

from livestream import wire
from livestream.store import (
    MemoryStore,
    RedisStore,
    Store,
    envelope_parse,
    store_get,
)

logger = logging.getLogger(__name__)

CLOSE_TOO_SLOW = 4408
CLOSE_NOT_SIGNED_IN = 4401  # also a revoked session (docs/live-protocol.md)
ASGI_QUEUE_MAX = 500
HELD_MAX = 2000


class WireUnavailable(RuntimeError):
    """LIVE_DIRECT_WRITE="on" but the daphne internals this relies on were not found."""


class Item(NamedTuple):
    audience: str
    seq: int
    payload: bytes


class Batch:
    """Events for one class of sockets, encoded and framed once, lazily."""

    __slots__ = ("_framed", "_texts", "items")

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self._framed: bytes | None = None
        self._texts: list[str] | None = None

    @property
    def framed(self) -> bytes:
        if self._framed is None:
            self._framed = b"".join(wire.frame_text(i.payload) for i in self.items)
        return self._framed

    @property
    def texts(self) -> list[str]:
        if self._texts is None:
            self._texts = [i.payload.decode() for i in self.items]
        return self._texts


class Sink:
    """One local socket of a lecture (slotted: one per socket, thousands per process)."""

    __slots__ = ("closed", "held", "hub", "lecture_id", "moderator", "unit_id", "user_id")

    def __init__(self, hub: Hub, lecture_id: int, user_id: int, moderator: bool) -> None:
        self.hub = hub
        self.lecture_id = lecture_id
        self.user_id = user_id
        self.unit_id: int | None = None  # the viewer's unit: the dashboard's rows
        self.moderator = moderator
        self.held: list[Item] | None = []  # held until the first state is sent
        self.closed = False

    def wants(self, item: Item) -> bool:
        a = item.audience
        if a == "all":
            return True
        if a == "mod":
            return self.moderator
        return a == f"u:{self.user_id}"

    def hold(self) -> None:
        if self.held is None:
            self.held = []

    def release(self, *, after_seq: int) -> None:
        """Send what arrived while held, minus the events the snapshot already covers."""
        items, self.held = self.held or [], None
        keep = [i for i in items if not (i.audience == "all" and 0 < i.seq <= after_seq)]
        if keep and not self.closed:
            self.write(Batch(keep))

    def offer(self, batch: Batch) -> None:
        if self.closed:
            return
        if self.held is not None:
            self.held.extend(batch.items)
            if len(self.held) > HELD_MAX:
                self.overflow()
            return
        self.write(batch)

    def overflow(self) -> None:
        self.hub.stats["too_slow"] += 1
        self.closed = True
        self.hub.leave(self)
        self.close(CLOSE_TOO_SLOW)

    def write(self, batch: Batch) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def reply(self, text: str) -> bool:
        """Write the consumer's own answer past Channels and autobahn when this sink can;
        False: the consumer sends it through ASGI."""
        return False

    def close(self, code: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class DirectSink(Sink):
    """Pre-framed bytes straight to daphne's socket (see wire.py)."""

    __slots__ = ("writer",)

    def __init__(
        self, hub: Hub, lecture_id: int, user_id: int, moderator: bool, writer: wire.DirectWriter
    ) -> None:
        super().__init__(hub, lecture_id, user_id, moderator)
        self.writer = writer

    def write(self, batch: Batch) -> None:
        if self.writer.buffered() > self.hub.buffer_limit:
            self.overflow()
            return
        self.writer.write(batch.framed)
        self.hub.stats["writes"] += 1

    def reply(self, text: str) -> bool:
        if self.closed:
            return False
        self.writer.write(wire.frame_text(text.encode()))  # ordered after earlier sends
        return True

    def close(self, code: int) -> None:
        self.writer.close(code)


class AsgiSink(Sink):
    """The portable path: the consumer's ASGI ``send``, one message at a time, drained by a
    short-lived task so a slow socket never blocks the fan-out loop."""

    __slots__ = ("consumer", "queue", "task")

    def __init__(
        self, hub: Hub, lecture_id: int, user_id: int, moderator: bool, consumer: Any
    ) -> None:
        super().__init__(hub, lecture_id, user_id, moderator)
        self.consumer = consumer
        self.queue: deque[str] = deque()
        self.task: asyncio.Task[None] | None = None

    def write(self, batch: Batch) -> None:
        if len(self.queue) >= ASGI_QUEUE_MAX:  # an undrained backlog: too slow
            self.queue.clear()
            self.overflow()
            return
        self.queue.extend(batch.texts)
        self.hub.stats["writes"] += 1
        if self.task is None:
            self.task = self.hub.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.queue and not self.closed:
                await self.consumer.send(text_data=self.queue.popleft())
        except Exception:  # the socket went away; the consumer's disconnect cleans up
            logger.debug("live: ASGI send failed", exc_info=True)
        finally:
            self.task = None

    def close(self, code: int) -> None:
        self.hub.loop.create_task(self.consumer.close(code=code))


class Hub:
    """The hub of one kind of room (``namespace``: "" for the live rooms, where ids are
    lecture ids; another app's rooms, e.g. the discussion spaces, use their own namespace
    and get the same delivery without the live room's presence, viewer and vote ticks)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, namespace: str = "") -> None:
        self.loop = loop
        self.namespace = namespace
        self.store: Store = store_get(namespace)
        self.rooms: dict[int, set[Sink]] = {}
        self.pending: dict[int, list[Item]] = {}
        self.flush_scheduled = False
        self.stats: Counter[str] = Counter()
        self.buffer_limit = int(settings.LIVE_SOCKET_BUFFER_BYTES)
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._emptied: set[int] = set()
        self._pubsub: Any = None
        self._redis: Any = None
        self._subscribed: set[int] = set()
        self._sub_lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._vote_ticker: asyncio.Task[None] | None = None
        self._listener = _MemoryListener(self)
        self._revoked_checked = time.time()
        if isinstance(self.store, MemoryStore):
            self.store.listeners.append(self._listener)

    # -- sockets -----------------------------------------------------------------------

    async def join(
        self,
        *,
        consumer: Any,
        lecture_id: int,
        user_id: int,
        moderator: bool,
        unit_id: int | None = None,
    ) -> Sink:
        """Register a socket (held until its state is sent) and make sure this process
        is subscribed to the lecture before the caller reads the snapshot."""
        sink = self._make_sink(consumer, lecture_id, user_id, moderator)
        sink.unit_id = unit_id
        self.rooms.setdefault(lecture_id, set()).add(sink)
        self._emptied.discard(lecture_id)
        if isinstance(self.store, RedisStore):
            await self._subscribe(lecture_id)
        if self._ticker is None or self._ticker.done():
            self._ticker = self.loop.create_task(self._tick_loop())
        votes = not self.namespace  # no votes outside the live rooms
        if votes and (self._vote_ticker is None or self._vote_ticker.done()):
            self._vote_ticker = self.loop.create_task(self._vote_loop())
        return sink

    def _make_sink(self, consumer: Any, lecture_id: int, user_id: int, moderator: bool) -> Sink:
        mode = str(settings.LIVE_DIRECT_WRITE)
        if mode != "off":
            writer = wire.direct_writer_for(consumer.base_send)
            if writer is not None and (writer.sock is not None or mode == "auto"):
                return DirectSink(self, lecture_id, user_id, moderator, writer)
            if mode == "on":
                raise WireUnavailable("daphne socket not reachable for direct writes")
        return AsgiSink(self, lecture_id, user_id, moderator, consumer)

    def leave(self, sink: Sink) -> None:
        room = self.rooms.get(sink.lecture_id)
        if room is None or sink not in room:
            return
        room.discard(sink)
        if not room:
            del self.rooms[sink.lecture_id]
            self._emptied.add(sink.lecture_id)
            if sink.lecture_id in self._subscribed:
                self.loop.create_task(self._unsubscribe(sink.lecture_id))

    def local_user_units(self, lecture_id: int) -> dict[int, int | None]:
        """This process's viewers of the lecture and their units (user id → unit id)."""
        return {s.user_id: s.unit_id for s in self.rooms.get(lecture_id, ())}

    # -- delivery ----------------------------------------------------------------------

    def on_data(self, lecture_id: int, data: bytes) -> None:
        audience, seq, payload = envelope_parse(data)
        self.pending.setdefault(lecture_id, []).append(Item(audience, seq, payload))
        self.stats["events"] += 1
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        pending, self.pending = self.pending, {}
        for lecture_id, items in pending.items():
            room = self.rooms.get(lecture_id)
            if room:
                self._fan_out(list(room), items)

    def _fan_out(self, sinks: Iterable[Sink], items: list[Item]) -> None:
        targeted = any(i.audience.startswith("u:") for i in items)
        cache: dict[tuple[bool, int], Batch | None] = {}
        for sink in sinks:
            key = (sink.moderator, sink.user_id if targeted else 0)
            if key not in cache:
                chosen = [i for i in items if sink.wants(i)]
                cache[key] = Batch(chosen) if chosen else None
            batch = cache[key]
            if batch is not None:
                try:
                    sink.offer(batch)
                except Exception:
                    logger.exception("live: delivery to one socket failed")
                    sink.closed = True
                    self.leave(sink)

    # -- Redis subscription -----------------------------------------------------------

    def _redis_store(self) -> RedisStore:
        if not isinstance(self.store, RedisStore):
            raise TypeError("the hub is not on Redis")
        return self.store

    async def _subscribe(self, lecture_id: int) -> None:
        async with self._sub_lock:
            if lecture_id in self._subscribed:
                return
            if self._pubsub is None:
                await self._connect()
            await self._pubsub.subscribe(self._redis_store().channel(lecture_id=lecture_id))
            self._subscribed.add(lecture_id)
            if self._reader is None or self._reader.done():
                self._reader = self.loop.create_task(self._read_loop())

    async def _unsubscribe(self, lecture_id: int) -> None:
        async with self._sub_lock:
            if lecture_id in self.rooms or lecture_id not in self._subscribed:
                return
            self._subscribed.discard(lecture_id)
            try:
                await self._pubsub.unsubscribe(self._redis_store().channel(lecture_id=lecture_id))
            except Exception:
                logger.debug("live: unsubscribe failed", exc_info=True)
            if not self._subscribed:
                await self._disconnect()

    async def _connect(self) -> None:
        import redis.asyncio as aioredis

        # Pub/sub reads block while the room is quiet: no socket timeout on this connection
        # (redis-py 8 would default to 5 s and kill it), keepalive + health checks instead.
        self._redis = aioredis.Redis.from_url(
            self._redis_store().url,
            socket_timeout=None,
            socket_connect_timeout=float(settings.LIVE_REDIS_SOCKET_TIMEOUT),
            socket_keepalive=True,
            health_check_interval=30,
            max_connections=4,
        )
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)

    async def _disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        pubsub, self._pubsub = self._pubsub, None
        client, self._redis = self._redis, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception:
                logger.debug("live: pubsub close failed", exc_info=True)
        if client is not None:
            try:
                await client.aclose()
            except Exception:
                logger.debug("live: redis close failed", exc_info=True)

    async def _read_loop(self) -> None:
        store = self._redis_store()
        prefix = store.channel(lecture_id=0)[:-1].encode()
        backoff = 0.5
        while self._subscribed:
            try:
                pubsub = self._pubsub
                if pubsub is None:
                    async with self._sub_lock:
                        await self._connect()
                        for lid in self._subscribed:
                            await self._pubsub.subscribe(store.channel(lecture_id=lid))
                    continue
                message = await pubsub.get_message(timeout=1.0)
                backoff = 0.5
                if message is None or message.get("type") != "message":
                    continue
                channel: bytes = message["channel"]
                if channel.startswith(prefix):
                    self.on_data(int(channel[len(prefix) :]), message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("live: Redis subscription lost; reconnecting", exc_info=True)
                old, self._pubsub = self._pubsub, None
                if old is not None:
                    try:
                        await old.aclose()
                    except Exception:
                        logger.debug("live: pubsub close failed", exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    # -- presence, viewers, status ------------------------------------------------------

    async def _tick_loop(self) -> None:
        interval = float(settings.LIVE_VIEWERS_INTERVAL_SECONDS)
        while self.rooms or self._emptied:
            viewers = {lid: self.local_user_units(lid) for lid in self.rooms}
            for lid in self._emptied:
                viewers.setdefault(lid, {})
            self._emptied.clear()
            if not self.namespace:  # presence and status are the live rooms' business
                try:
                    await asyncio.to_thread(self._tick_sync, viewers, interval)
                except Exception:
                    logger.exception("live: presence tick failed")
            try:
                await self._close_revoked()
            except Exception:
                logger.exception("live: revocation check failed")
            await asyncio.sleep(interval)

    async def _close_revoked(self) -> None:
        """Close (4401) the sockets of users whose sessions were ended since the last
        check (deactivated, password changed: ``portal.signals.user_sessions_ended``).
        The window overlaps by a few seconds for clock differences between processes."""
        since = self._revoked_checked - 5.0
        self._revoked_checked = time.time()
        # revocations are kept once, in the live rooms' store, for every kind of room
        user_ids = await asyncio.to_thread(store_get().revoked_since, since=since)
        if user_ids:
            self.close_users(user_ids=user_ids, code=CLOSE_NOT_SIGNED_IN)

    def close_users(self, *, user_ids: set[int], code: int) -> int:
        closed = 0
        for room in list(self.rooms.values()):
            for sink in [s for s in room if s.user_id in user_ids and not s.closed]:
                sink.closed = True
                self.leave(sink)
                sink.close(code)
                closed += 1
        self.stats["revoked_closed"] += closed
        return closed

    async def _vote_loop(self) -> None:
        """Vote counts and new questions: every LIVE_VOTES_INTERVAL_SECONDS (resp.
        LIVE_QUEUE_INTERVAL_SECONDS), for each lecture with sockets here, the one process
        that takes the lecture's gate sends the dirty counts (at most one
        ``question.votes`` per interval per lecture across all processes) and the questions
        asked since (each once, to the moderators)."""
        votes = float(settings.LIVE_VOTES_INTERVAL_SECONDS)
        queue = float(settings.LIVE_QUEUE_INTERVAL_SECONDS)
        while self.rooms:
            try:
                await asyncio.to_thread(self._votes_sync, list(self.rooms), votes, queue)
            except Exception:
                logger.exception("live: vote tick failed")
            await asyncio.sleep(min(votes, queue))

    def _votes_sync(self, lecture_ids: list[int], votes: float, queue: float) -> None:
        from livestream import broadcast

        for lecture_id in lecture_ids:
            if self.store.gate(key=f"votes:{lecture_id}", seconds=votes):
                broadcast.votes_flush(lecture_id=lecture_id)
            if self.store.gate(key=f"queue:{lecture_id}", seconds=queue):
                broadcast.queue_flush(lecture_id=lecture_id)

    def _tick_sync(self, viewers: dict[int, dict[int, int | None]], interval: float) -> None:
        from livestream import broadcast
        from livestream.selectors import lecture_get_for_room
        from livestream.stats import lecture_series_add, lecture_stats_send, viewers_by_group

        close_old_connections()
        try:
            for lecture_id, user_units in viewers.items():
                count = len(user_units)
                self.store.presence_set(
                    lecture_id=lecture_id,
                    process_id=self.process_id,
                    count=count,
                    user_ids=user_units.keys(),
                    by_unit=viewers_by_group(user_units=user_units),
                )
                if not count or not self.store.gate(key=f"viewers:{lecture_id}", seconds=interval):
                    continue
                # the status is read before anything is sent, so a change made after a
                # client saw this tick's events is always reported by the next tick
                lecture = lecture_get_for_room(lecture_id=lecture_id)
                status = lecture.status if lecture is not None else None
                total = self.store.presence_total(lecture_id=lecture_id)
                broadcast.viewers(lecture_id=lecture_id, count=total)
                if status is None:
                    continue
                lecture_series_add(lecture_id=lecture_id, viewers=total)
                old = self.store.status_swap(lecture_id=lecture_id, status=status)
                if old is not None and old != status:
                    replay = lecture.replay_url if lecture is not None else ""
                    broadcast.lecture_status(
                        lecture_id=lecture_id, status=status, replay_url=replay
                    )
                lecture_stats_send(lecture_id=lecture_id)  # the organisers' dashboard
        finally:
            connection.close()


class _MemoryListener:
    """Receives MemoryStore deliveries from any thread and hands them to the hub's loop."""

    def __init__(self, hub: Hub) -> None:
        self.hub_ref = weakref.ref(hub)

    def __call__(self, lecture_id: int, data: bytes) -> None:
        hub = self.hub_ref()
        if hub is None or hub.loop.is_closed():
            self._forget(hub)
            return
        try:
            hub.loop.call_soon_threadsafe(hub.on_data, lecture_id, data)
        except RuntimeError:  # loop closed meanwhile
            self._forget(hub)

    def _forget(self, hub: Hub | None) -> None:
        for store in [hub.store] if hub is not None else []:
            if isinstance(store, MemoryStore) and self in store.listeners:
                store.listeners.remove(self)


_hubs: dict[tuple[int, str], Hub] = {}


def hub_get(namespace: str = "") -> Hub:
    """The hub of the running event loop for a kind of room (one per daphne process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get((id(loop), namespace))
    if hub is None or hub.loop is not loop or hub.store is not store_get(namespace):
        for key, old in list(_hubs.items()):
            if old.loop.is_closed():
                del _hubs[key]
        hub = Hub(loop, namespace)
        _hubs[(id(loop), namespace)] = hub
    return hub
