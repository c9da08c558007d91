"""The discussion socket ``/ws/discussion/<space id>/``: receive-only for the page; posts
are written through the JSON API. Events reach it through the hub (namespace ``disc:``).

The client sends ``hello{last_seq}`` (the seq its page or last event carried); the server
answers with the events since then from the space's ring, or ``state{seq}`` when the ring
no longer holds them (the page then reloads its list over HTTP). Moderators always get a
``state`` (their review events are not in the ring). docs/discussion.md has the protocol.
"""

from __future__ import annotations

import json
import logging
import time

from courses.attendance.hot_settings import hot_settings
from discussion import broadcast, selectors
from discussion.exceptions import DiscussionError, DiscussionErrorCode
from livestream.broadcast import encode
from livestream.hub import CLOSE_NOT_SIGNED_IN, hub_get
from livestream.sockets import (
    CLOSE_FLOODING,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_SERVER_ERROR,
    CLOSE_TOO_LARGE,
    HubConsumer,
    run_sync,
)

logger = logging.getLogger(__name__)

_CONNECT_CLOSE = {
    DiscussionErrorCode.NOT_SIGNED_IN: CLOSE_NOT_SIGNED_IN,
    DiscussionErrorCode.FORBIDDEN: CLOSE_FORBIDDEN,
    DiscussionErrorCode.NOT_FOUND: CLOSE_NOT_FOUND,
}


class DiscussionConsumer(HubConsumer):
    space_id = 0
    moderator = False

    async def connect(self) -> None:
        space_id = int(self.scope["url_route"]["kwargs"]["space_id"])
        user = self.scope.get("user")
        try:
            if user is None or not user.is_authenticated:
                raise DiscussionError(DiscussionErrorCode.NOT_SIGNED_IN)
            access = await run_sync(selectors.space_access_get, user=user, space_id=space_id)
        except DiscussionError as exc:
            await self.accept()  # a close before the handshake is an HTTP 403 without a code
            await self._finish(_CONNECT_CLOSE.get(exc.code, CLOSE_FORBIDDEN))
            return
        self.space_id = space_id
        self.moderator = access.is_moderator
        await self.accept()
        try:
            # held until the client's hello is answered
            self.sink = await hub_get(broadcast.NAMESPACE).join(
                consumer=self, lecture_id=space_id, user_id=user.pk, moderator=self.moderator
            )
        except Exception:
            logger.exception("discussion: cannot join the hub")
            await self._finish(CLOSE_SERVER_ERROR)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.finished or self.sink is None:
            return
        hot = hot_settings()
        now = time.monotonic()
        frames = self.frames = [
            t for t in (self.frames or []) if t > now - hot.flood_window_seconds
        ]
        frames.append(now)
        if len(frames) > hot.flood_frames:
            await self._finish(CLOSE_FLOODING)
            return
        size = len(bytes_data) if bytes_data is not None else len((text_data or "").encode())
        if size > hot.frame_max_bytes:
            await self._finish(CLOSE_TOO_LARGE)
            return
        try:
            command = json.loads(text_data or "")
        except ValueError:
            command = None
        if not isinstance(command, dict) or command.get("type") != "hello":
            await self._error(DiscussionError(DiscussionErrorCode.INVALID))
            return
        last_seq = command.get("last_seq")
        if last_seq is not None and (
            isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0
        ):
            await self._error(DiscussionError(DiscussionErrorCode.INVALID))
            return
        await self._hello(last_seq)

    async def _hello(self, last_seq: int | None) -> None:
        sink = self.sink
        if sink is None:
            return
        sink.hold()
        store = broadcast.store()
        events: list[str] | None = None
        after = 0
        try:
            if last_seq is not None and not self.moderator:
                try:
                    events = await run_sync(
                        store.events_since, lecture_id=self.space_id, last_seq=last_seq
                    )
                except Exception:
                    logger.exception("discussion: replay failed; sending a state")
            if events is None:
                after = await run_sync(store.seq_current, lecture_id=self.space_id)
                await self.send(text_data=encode({"type": "state", "seq": after}))
            else:
                for text in events:
                    await self.send(text_data=text)
                after = last_seq + len(events) if last_seq is not None else 0
        finally:
            sink.release(after_seq=after)

    async def _error(self, exc: DiscussionError) -> None:
        await self.send(
            text_data=encode({"type": "error", "code": exc.code.value, "message": exc.message})
        )
