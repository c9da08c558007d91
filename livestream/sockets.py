"""What every hub-fed websocket shares (live rooms, discussion spaces): no channel layer,
the ASGI ``receive`` awaited directly, the hub's sink left on disconnect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import close_old_connections

from livestream.hub import DirectSink, Sink
from portal.http import address_bound, address_of_scope

T = TypeVar("T")

# Closing codes shared by every hub-fed socket (docs/live-protocol.md; 4401 and 4408 are
# the hub's own: CLOSE_NOT_SIGNED_IN, CLOSE_TOO_SLOW)
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_FLOODING = 4429
CLOSE_TOO_LARGE = 1009
CLOSE_SERVER_ERROR = 1011


def _closing(fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    try:
        return fn(**kwargs)
    finally:
        close_old_connections()


async def run_sync(fn: Callable[..., T], **kwargs: Any) -> T:
    """Run ORM/blocking work in a worker thread (not the single thread-sensitive one:
    thousands of sockets must not queue behind each other)."""
    return await DatabaseSyncToAsync(_closing, thread_sensitive=False)(fn, kwargs)


class HubConsumer(AsyncWebsocketConsumer):
    # No channel layer: broadcasts reach the socket through the hub, never through a
    # group, so no per-socket layer channel, receive task and queue (docs/live-protocol.md).
    channel_layer_alias = "live-room-has-no-channel-layer"
    sink: Sink | None = None
    frames: list[float] | None = None
    finished = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """``AsyncConsumer.__call__`` for a consumer without a channel layer: await the
        ASGI ``receive`` directly (Channels' ``await_many_dispatch`` keeps a Task per socket
        and makes a new one per frame). tests/livestream/test_heartbeat_async.py checks
        that Channels' own ``__call__`` sets up nothing else for such a consumer."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        address = address_of_scope(scope)  # audit rows of this socket's commands
        try:
            with address_bound(lambda: address):
                while True:
                    await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its thread hop (``aclose_old_connections``) before
        every handler: this consumer never touches the ORM on the event loop, and every
        ``run_sync`` closes stale connections in its own worker thread."""
        if message["type"] == "websocket.receive":
            # = AsyncWebsocketConsumer.websocket_receive, one coroutine less per frame
            text = message.get("text")
            if text is not None:
                await self.receive(text_data=text)
            else:
                await self.receive(bytes_data=message["bytes"])
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        self.finished = True
        if self.sink is not None:
            self.sink.closed = True
            self.sink.hub.leave(self.sink)

    async def _finish(self, code: int) -> None:
        self.finished = True
        if isinstance(self.sink, DirectSink):
            # through the wire module: daphne cannot send 1009 through ASGI (it becomes 1011)
            self.sink.closed = True
            self.sink.hub.leave(self.sink)
            self.sink.close(code)
            return
        await self.close(code=code)
