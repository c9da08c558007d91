"""The live room's side of the attention check (rules in ``courses/attention.py``).

Called by the consumer through ``run_sync``, and only when a check may be outstanding:
the common heartbeat path never gets here.
"""

from __future__ import annotations

from courses.attendance.attention import AttentionGate, attention_answer, attention_check_get
from livestream import broadcast


def attention_check_for_heartbeat(*, gate: AttentionGate) -> str | None:
    """The check to show (the heartbeat then earns nothing), or None to credit as usual."""
    return attention_check_get(gate=gate)


def attention_answer_submit(*, gate: AttentionGate, check_id: str) -> bool:
    """Record the answer and tell the user's other tabs; False for an old or forged id."""
    if not attention_answer(gate=gate, check_id=check_id):
        return False
    broadcast.attention_answered(
        lecture_id=gate.lecture_id, user_id=gate.user_id, check_id=check_id
    )
    return True
