"""The live-room websocket: parse → authorise → call one service → answer.

Broadcasts never pass through here: the per-process hub (hub.py) writes them to the socket.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import close_old_connections
from django.utils.translation import gettext as _

from livestream import protocol, selectors, services
from livestream.broadcast import encode
from livestream.events import question_payload
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.hub import DirectSink, Sink, hub_get
from livestream.selectors import RoomAccess
from livestream.store import store_get

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_FLOODING = 4429
CLOSE_TOO_LARGE = 1009
CLOSE_SERVER_ERROR = 1011

_CONNECT_CLOSE = {
    LiveErrorCode.NOT_SIGNED_IN: CLOSE_NOT_SIGNED_IN,
    LiveErrorCode.FORBIDDEN: CLOSE_FORBIDDEN,
    LiveErrorCode.NOT_FOUND: CLOSE_NOT_FOUND,
}


def _closing(fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    try:
        return fn(**kwargs)
    finally:
        close_old_connections()


async def run_sync(fn: Callable[..., T], **kwargs: Any) -> T:
    """Run ORM/blocking work in a worker thread (not the single thread-sensitive one:
    thousands of sockets must not queue behind each other)."""
    return await DatabaseSyncToAsync(_closing, thread_sensitive=False)(fn, kwargs)


def _ask(access: RoomAccess, cmd: protocol.Ask) -> dict[str, Any]:
    result = services.question_ask(
        access=access, text=cmd.text, anonymous=cmd.anonymous, client_id=cmd.client_id
    )
    return {
        "type": "question.accepted",
        "client_id": cmd.client_id,
        "question": question_payload(result.question),
    }


class LiveRoomConsumer(AsyncWebsocketConsumer):
    access: RoomAccess | None = None
    sink: Sink | None = None

    async def connect(self) -> None:
        self.frames: deque[float] = deque()
        self.finished = False
        lecture_id = int(self.scope["url_route"]["kwargs"]["lecture_id"])
        user = self.scope.get("user")
        try:
            if user is None or not user.is_authenticated:
                raise LiveError(LiveErrorCode.NOT_SIGNED_IN)
            self.access = await run_sync(
                selectors.room_access_get, user=user, lecture_id=lecture_id
            )
        except LiveError as exc:
            # Accept first: a close before the handshake is an HTTP 403 without a code.
            await self.accept()
            await self._finish(_CONNECT_CLOSE.get(exc.code, CLOSE_FORBIDDEN))
            return
        await self.accept()
        try:
            self.sink = await hub_get().join(
                consumer=self,
                lecture_id=lecture_id,
                user_id=user.pk,
                moderator=self.access.is_moderator,
            )
        except Exception:
            logger.exception("live: cannot join the hub")
            await self._finish(CLOSE_SERVER_ERROR)
            return
        await self._send_state()

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

    # -- frames from the client ---------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.finished or self.access is None:
            return
        now = time.monotonic()
        self.frames.append(now)
        window = float(settings.LIVE_FLOOD_WINDOW_SECONDS)
        while self.frames and self.frames[0] <= now - window:
            self.frames.popleft()
        if len(self.frames) > int(settings.LIVE_FLOOD_FRAMES):
            await self._finish(CLOSE_FLOODING)
            return
        limit = int(settings.LIVE_FRAME_MAX_BYTES)
        size = len(bytes_data) if bytes_data is not None else len((text_data or "").encode())
        if size > limit:
            await self._finish(CLOSE_TOO_LARGE)
            return
        if text_data is None:
            await self._error(LiveError(LiveErrorCode.INVALID, _("Send JSON text frames.")))
            return
        try:
            command = protocol.parse(text_data)
            await self._handle(command)
        except LiveError as exc:
            await self._error(exc)
        except Exception:
            logger.exception("live: frame handling failed")
            await self._error(LiveError(LiveErrorCode.INVALID))

    async def _handle(self, command: protocol.Command) -> None:
        access, _sink = self._seat()
        if isinstance(command, protocol.Hello):
            await self._hello(command.last_seq)
        elif isinstance(command, protocol.Ask):
            await self._send(await run_sync(_ask, access=access, cmd=command))
        elif isinstance(command, protocol.VoteCmd):
            await run_sync(
                services.question_vote,
                access=access,
                question_id=command.question_id,
                up=command.up,
            )
        elif isinstance(command, protocol.Moderate):
            await run_sync(
                services.question_moderate,
                access=access,
                question_id=command.question_id,
                action=command.action,
                reason=command.reason,
            )
        elif isinstance(command, protocol.Heartbeat):
            credited = await run_sync(
                services.attendance_heartbeat,
                user=access.user,
                lecture_id=access.lecture.pk,
                playing=command.playing,
                replay=command.replay,
            )
            await self._send({"type": "heartbeat.ack", "credited_seconds": credited})

    def _seat(self) -> tuple[RoomAccess, Sink]:
        if self.access is None or self.sink is None:
            raise RuntimeError("the socket has not joined its room")
        return self.access, self.sink

    # -- answers --------------------------------------------------------------------

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=encode(payload))

    async def _error(self, exc: LiveError) -> None:
        payload: dict[str, Any] = {"type": "error", "code": exc.code.value, "message": exc.message}
        if exc.code == LiveErrorCode.RATE_LIMITED:
            payload["retry_after"] = exc.retry_after or 1
        await self._send(payload)

    async def _send_state(self) -> None:
        access, sink = self._seat()
        sink.hold()
        after_seq = 0
        try:
            state = await run_sync(selectors.room_state, access=access)
            await self._send(dict(state))
            after_seq = state["seq"]
        finally:
            sink.release(after_seq=after_seq)

    async def _hello(self, last_seq: int | None) -> None:
        """Replay the events after ``last_seq`` from the ring, else a fresh ``state``.
        Moderators always get a state (their queue events are not in the ring)."""
        access, sink = self._seat()
        if last_seq is None or access.is_moderator:
            await self._send_state()
            return
        sink.hold()
        try:
            events = await run_sync(
                store_get().events_since, lecture_id=access.lecture.pk, last_seq=last_seq
            )
        except Exception:
            logger.exception("live: replay failed; sending a state")
            events = None
        if events is None:
            await self._send_state()
            return
        try:
            for event in events:
                await self.send(text_data=event)
        finally:
            sink.release(after_seq=last_seq + len(events))
