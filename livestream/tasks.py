"""The live rooms' Celery tasks (thin: one use case each; ids in, idempotent)."""

from __future__ import annotations

from celery import shared_task

from livestream.streaming.replays import replay_build as _replay_build
from livestream.streaming.services import stream_grace_tick


@shared_task(name="livestream.stream_grace")
def stream_grace() -> int:
    """Every 10 s: lectures whose push stopped STREAM_GRACE_SECONDS ago end."""
    return len(stream_grace_tick())


@shared_task(name="livestream.replay_build", acks_late=True)
def replay_build(lecture_id: int) -> str:
    """A recording ended: the lecture's replay from all of its recordings."""
    replay = _replay_build(lecture_id=lecture_id)
    return replay.url if replay is not None else ""
