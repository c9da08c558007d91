"""The optional attention check ("仍在观看吗?"): credit pauses until the viewer answers.

A programme sets ``attention_check_minutes`` (0 = off, the default); M is that many
"minutes" of ``ATTENDANCE_ATTENTION_MINUTE_SECONDS`` seconds. The server decides when a
check is due, so it also *enforces* it:

* Time is cut into slots of M seconds. Slot ``s`` has one check, due at
  ``s*M + M/4 + h(s) mod M/2`` where ``h`` is an HMAC of (lecture, user, slot) with the
  SECRET_KEY: checks come at random-looking intervals between M/2 and 3M/2 (mean M), the
  same for every tab and device of the user, and cannot be predicted by the client.
* While the latest due check is unanswered, a socket's heartbeats earn nothing: the
  consumer sends ``attention.check`` (with a signed ``check_id``) instead of crediting.
  Honest clients stop sending heartbeats until the viewer clicks; the answer
  (``attention.answer``) clears the check for all of the user's sockets.
* Cost: deciding whether a check is due is pure arithmetic per heartbeat (one HMAC); the
  shared state (per user and lecture: the latest check issued and answered) is read or
  written only around a check, never on the common path.
* A check that fell due before a socket joined is skipped unless it was already issued to
  the user (so joining never starts with a prompt, and reconnecting does not escape one).

A script can still answer checks automatically; this only makes an unattended player stop
earning, which is what the organisers asked for.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from courses.attendance.buffer import RedisBuffer, buffer_get
from courses.models import Lecture
from portal.process_state import process_state_reset

# How long the shared state of one (lecture, user) is kept after its last change.
STATE_TTL_SECONDS = 2 * 24 * 3600

_SET_MAX_LUA = """
-- KEYS: 1 state hash.  ARGV: 1 field, 2 value, 3 ttl.  Keeps the larger value.
local old = tonumber(redis.call("HGET", KEYS[1], ARGV[1]) or "-1")
if tonumber(ARGV[2]) > old then redis.call("HSET", KEYS[1], ARGV[1], ARGV[2]) end
redis.call("EXPIRE", KEYS[1], ARGV[3])
local t = redis.call("HMGET", KEYS[1], "issued", "answered")
return {tonumber(t[1] or "-1"), tonumber(t[2] or "-1")}
"""


@dataclass(slots=True)
class AttentionGate:
    """One socket's view of the user's checks: a few numbers, no I/O of its own."""

    lecture_id: int
    user_id: int
    mean_seconds: int
    joined_at: float
    answered: int = -1  # highest slot known answered (or skipped) by this socket

    def _digest(self, slot: int) -> bytes:
        message = f"attention:{self.lecture_id}:{self.user_id}:{slot}".encode()
        return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()

    def due_at(self, slot: int) -> float:
        m = self.mean_seconds
        spread = max(1, m // 2)
        offset = m // 4 + int.from_bytes(self._digest(slot)[:4], "big") % spread
        return float(slot * m + offset)

    def latest_due(self, now: float) -> int:
        """The newest slot whose check is due at ``now``."""
        slot = int(now // self.mean_seconds)
        return slot if now >= self.due_at(slot) else slot - 1

    def blocks(self, now: float) -> bool:
        """True when a check may be outstanding (then ``attention_check_get`` decides)."""
        return self.latest_due(now) > self.answered

    def check_id(self, slot: int) -> str:
        return f"{slot}.{self._digest(slot)[8:20].hex()}"

    def slot_of(self, check_id: str) -> int | None:
        """The slot a genuine ``check_id`` names, else None."""
        slot_s, _dot, _sig = check_id.partition(".")
        try:
            slot = int(slot_s)
        except ValueError:
            return None
        if slot < 0 or not hmac.compare_digest(check_id, self.check_id(slot)):
            return None
        return slot


def attention_gate_for(*, lecture: Lecture, user_id: int) -> AttentionGate | None:
    """The gate for a socket joining ``lecture`` (``programme`` loaded), None when off."""
    minutes = int(lecture.programme.attention_check_minutes or 0)
    if minutes <= 0:
        return None
    mean = minutes * int(settings.ATTENDANCE_ATTENTION_MINUTE_SECONDS)
    return AttentionGate(
        lecture_id=lecture.pk, user_id=user_id, mean_seconds=mean, joined_at=time.time()
    )


# ---------------------------------------------------------------------------------------
# Shared state per (lecture, user): the latest slot issued and answered
# ---------------------------------------------------------------------------------------

_memory: dict[tuple[int, int], list[int]] = {}
_memory_lock = threading.Lock()
_scripts: dict[int, Any] = {}


def _state_update(gate: AttentionGate, field: str | None, slot: int) -> tuple[int, int]:
    """Raise ``field`` (issued/answered) to ``slot`` if larger; return (issued, answered).
    With ``field`` None, only read. Kept beside the heartbeat buffer (Redis or memory)."""
    buffer = buffer_get()
    if isinstance(buffer, RedisBuffer):
        key = f"{buffer.prefix}attn:{gate.lecture_id}:{gate.user_id}"
        script = _scripts.get(id(buffer.client))
        if script is None:
            script = _scripts[id(buffer.client)] = buffer.client.register_script(_SET_MAX_LUA)
        issued, answered = script(
            keys=[key], args=[field or "issued", slot if field else -1, STATE_TTL_SECONDS]
        )
        return int(issued), int(answered)
    with _memory_lock:
        state = _memory.setdefault((gate.lecture_id, gate.user_id), [-1, -1])
        if field is not None:
            index = 0 if field == "issued" else 1
            state[index] = max(state[index], slot)
        return state[0], state[1]


@process_state_reset
def attention_memory_reset() -> None:
    """Forget the in-process state (tests)."""
    with _memory_lock:
        _memory.clear()


def attention_check_get(*, gate: AttentionGate, now: float | None = None) -> str | None:
    """The ``check_id`` the socket must get answered before it earns credit again, or None
    (answered on another tab, or due before this socket joined and never issued)."""
    now = time.time() if now is None else now
    slot = gate.latest_due(now)
    if slot <= gate.answered:
        return None
    issued, answered = _state_update(gate, None, slot)
    if answered >= slot:
        gate.answered = answered
        return None
    if gate.due_at(slot) < gate.joined_at and issued < slot:
        gate.answered = slot  # due before this socket joined: not this viewer's check
        return None
    _state_update(gate, "issued", slot)
    return gate.check_id(slot)


def attention_answer(*, gate: AttentionGate, check_id: str, now: float | None = None) -> bool:
    """Accept the answer to the latest issued check (an older or forged id is refused).
    Clears every check due so far, for all of the user's sockets."""
    now = time.time() if now is None else now
    slot = gate.slot_of(check_id)
    latest = gate.latest_due(now)
    if slot is None or slot > latest:
        return False
    issued, answered = _state_update(gate, None, slot)
    if answered >= latest:  # already answered on another tab
        gate.answered = max(gate.answered, answered)
        return True
    if slot < issued:
        return False
    _state_update(gate, "answered", latest)
    gate.answered = max(gate.answered, latest)
    return True
