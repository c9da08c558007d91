"""The live-room websocket: parse → authorise → call one service → answer.

Broadcasts never pass through here: the per-process hub (hub.py) writes them to the socket.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_right
from collections.abc import Callable
from typing import Any, TypeVar

from django.utils.translation import gettext as _

from courses.attendance.attention import AttentionGate, attention_gate_for
from courses.attendance.credit import attendance_heartbeat_async
from courses.attendance.hot_settings import hot_settings
from livestream import protocol, selectors, services
from livestream.attention import attention_answer_submit, attention_check_for_heartbeat
from livestream.broadcast import encode
from livestream.events import question_payload
from livestream.exceptions import LiveError, LiveErrorCode
from livestream.hub import CLOSE_NOT_SIGNED_IN, Sink, hub_get
from livestream.selectors import RoomAccess, Seat
from livestream.sockets import (
    CLOSE_FLOODING,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_SERVER_ERROR,
    CLOSE_TOO_LARGE,
    HubConsumer,
    run_sync,
)
from livestream.store import store_get

logger = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_RETRY_SECONDS = 1

_CONNECT_CLOSE = {
    LiveErrorCode.NOT_SIGNED_IN: CLOSE_NOT_SIGNED_IN,
    LiveErrorCode.FORBIDDEN: CLOSE_FORBIDDEN,
    LiveErrorCode.NOT_FOUND: CLOSE_NOT_FOUND,
}


def _in_room(*, use_case: Callable[..., T], user: Any, seat: Seat, **kwargs: Any) -> T:
    """Call a room use case with the seat's ``RoomAccess`` (rebuilt in the worker thread:
    the socket itself keeps only its ``Seat``)."""
    return use_case(access=selectors.room_access_for_seat(user=user, seat=seat), **kwargs)


def _ask(access: RoomAccess, cmd: protocol.Ask) -> dict[str, Any]:
    result = services.question_ask(
        access=access, text=cmd.text, anonymous=cmd.anonymous, client_id=cmd.client_id
    )
    return {
        "type": "question.accepted",
        "client_id": cmd.client_id,
        "question": question_payload(result.question),
    }


# Commands answered by the broadcasts of one room use case (no reply frame of their own).
_ROOM_USE_CASES: dict[type, Callable[..., Any]] = {
    protocol.VoteCmd: services.question_vote,
    protocol.Claim: services.question_claim,
    protocol.SpeakerOrder: services.speaker_list_set,
    protocol.Merge: services.question_merge,
}

_ACKS: dict[int, str] = {}
_ACKS_MAX = 4096  # distinct totals kept encoded (a lecture's users share few totals)


def _ack_text(credited: int) -> str:
    """The encoded ``heartbeat.ack`` for a total: encoded once per value, not per ack."""
    text = _ACKS.get(credited)
    if text is None:
        text = encode({"type": "heartbeat.ack", "credited_seconds": credited})
        if len(_ACKS) >= _ACKS_MAX:
            _ACKS.clear()
        _ACKS[credited] = text
    return text


class LiveRoomConsumer(HubConsumer):
    # Per-socket state stays small (thousands of idle sockets per process): ids in a Seat,
    # no model instances; the flood window is allocated on the first frame.
    seat: Seat | None = None
    attention: AttentionGate | None = None  # set only when the programme has checks

    async def connect(self) -> None:
        lecture_id = int(self.scope["url_route"]["kwargs"]["lecture_id"])
        user = self.scope.get("user")
        try:
            if user is None or not user.is_authenticated:
                raise LiveError(LiveErrorCode.NOT_SIGNED_IN)
            access = await run_sync(selectors.room_access_get, user=user, lecture_id=lecture_id)
        except LiveError as exc:
            # Accept first: a close before the handshake is an HTTP 403 without a code.
            await self.accept()
            await self._finish(_CONNECT_CLOSE.get(exc.code, CLOSE_FORBIDDEN))
            return
        gate = attention_gate_for(lecture=access.lecture, user_id=user.pk)
        if gate is not None:
            self.attention = gate
        self.seat = Seat.of(access)
        await self.accept()
        try:
            self.sink = await hub_get().join(
                consumer=self,
                lecture_id=lecture_id,
                user_id=user.pk,
                moderator=self.seat.is_moderator,
                unit_id=user.unit_id,
            )
        except Exception:
            logger.exception("live: cannot join the hub")
            await self._finish(CLOSE_SERVER_ERROR)
            return
        await self._send_state(access)  # the connect's access; the socket keeps its seat

    # -- frames from the client ---------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.finished or self.seat is None:
            return
        now = time.monotonic()
        frames = self.frames
        if frames is None:
            frames = self.frames = []
        frames.append(now)
        hot = hot_settings()  # the LIVE_* settings without a settings look-up each
        expired = bisect_right(frames, now - hot.flood_window_seconds)
        if expired:
            del frames[:expired]
        limit_frames = hot.flood_frames_moderator if self.seat.is_moderator else hot.flood_frames
        if len(frames) > limit_frames:
            await self._finish(CLOSE_FLOODING)
            return
        limit = hot.frame_max_bytes
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
            # Not the sender's fault (a locked or lost database, Redis away, a bug): a
            # retryable answer, never "invalid" (docs/live-protocol.md, error codes).
            logger.exception("live: frame handling failed")
            await self._error(LiveError(LiveErrorCode.BUSY, retry_after=BUSY_RETRY_SECONDS))

    async def _handle(self, command: protocol.Command) -> None:
        seat, _sink = self._seat()
        user = self.scope["user"]
        if isinstance(command, protocol.Hello):
            await self._hello(command.last_seq)
        elif isinstance(command, protocol.Ask):
            await self._send(
                await run_sync(_in_room, use_case=_ask, user=user, seat=seat, cmd=command)
            )
        elif type(command) in _ROOM_USE_CASES:
            # the command's fields are the use case's keyword arguments
            await run_sync(
                _in_room,
                use_case=_ROOM_USE_CASES[type(command)],
                user=user,
                seat=seat,
                **vars(command),
            )
        elif isinstance(command, protocol.Moderate) and command.cluster:
            await run_sync(
                _in_room,
                use_case=services.question_cluster_reject,
                user=user,
                seat=seat,
                question_id=command.question_id,
                reason=command.reason,
            )
        elif isinstance(command, protocol.Moderate):
            await run_sync(
                _in_room,
                use_case=services.question_moderate,
                user=user,
                seat=seat,
                question_id=command.question_id,
                action=command.action,
                reason=command.reason,
            )
        elif isinstance(command, protocol.Heartbeat):
            # on the event loop: no thread hop per heartbeat (bench/README.md)
            # (the gate checked here first: no coroutine per heartbeat without checks)
            credited = await attendance_heartbeat_async(
                user_id=seat.user_id,
                lecture_id=seat.lecture_id,
                playing=command.playing and (self.attention is None or await self._attentive()),
                replay=command.replay,
            )
            # pre-framed straight to daphne's socket when the hub writes to it directly (no
            # Channels/daphne/autobahn send and Twisted write-wakeup)
            text = _ack_text(credited)
            if self.sink is None or not self.sink.reply(text):
                await self.send(text_data=text)
        elif isinstance(command, protocol.AttentionAnswer):
            await self._attention_answer(command.check_id)

    async def _attentive(self) -> bool:
        """False while an attention check is unanswered (the heartbeat then earns nothing);
        the check is (re)sent to the client. No I/O unless a check may be due."""
        gate = self.attention
        if gate is None or not gate.blocks(time.time()):
            return True
        check_id = await run_sync(attention_check_for_heartbeat, gate=gate)
        if check_id is None:
            return True
        await self._send({"type": "attention.check", "check_id": check_id})
        return False

    async def _attention_answer(self, check_id: str) -> None:
        gate = self.attention
        if gate is None or not await run_sync(
            attention_answer_submit, gate=gate, check_id=check_id
        ):
            raise LiveError(LiveErrorCode.INVALID, _("This check has expired."))
        await self._send({"type": "attention.answered", "check_id": check_id})

    def _seat(self) -> tuple[Seat, Sink]:
        if self.seat is None or self.sink is None:
            raise RuntimeError("the socket has not joined its room")
        return self.seat, self.sink

    # -- answers --------------------------------------------------------------------

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=encode(payload))

    async def _error(self, exc: LiveError) -> None:
        payload: dict[str, Any] = {"type": "error", "code": exc.code.value, "message": exc.message}
        if exc.code in (LiveErrorCode.RATE_LIMITED, LiveErrorCode.BUSY, LiveErrorCode.CLAIMED):
            payload["retry_after"] = exc.retry_after or 1
        await self._send(payload)

    async def _send_state(self, access: RoomAccess | None = None) -> None:
        seat, sink = self._seat()
        sink.hold()
        after_seq = 0
        try:
            if access is not None:
                state, rest = await run_sync(selectors.room_state_parts, access=access)
            else:
                user = self.scope["user"]
                state, rest = await run_sync(
                    _in_room, use_case=selectors.room_state_parts, user=user, seat=seat
                )
            await self._send(dict(state))
            after_seq = state["seq"]
            for question in rest:  # the queue beyond the state's size, before any event
                await self._send(
                    {"type": "moderation.queue", "seq": after_seq, "question": question}
                )
        finally:
            sink.release(after_seq=after_seq)

    async def _hello(self, last_seq: int | None) -> None:
        """Replay the events after ``last_seq`` from the ring, else a fresh ``state``.
        Moderators always get a state (their queue events are not in the ring)."""
        seat, sink = self._seat()
        if last_seq is None or seat.is_moderator:
            await self._send_state()
            return
        sink.hold()
        try:
            events = await run_sync(
                store_get().events_since, lecture_id=seat.lecture_id, last_seq=last_seq
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
