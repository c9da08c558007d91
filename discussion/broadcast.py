"""The one place that sends discussion events: through the live rooms' hub, in its own
namespace (a space id is never a lecture id there), always on commit.

Audiences as in the live rooms: ``all`` (every open page of the space), ``mod`` (its
moderators), ``u:<id>`` (one user's pages). Broadcast events take the space's next ``seq``
and go into its ring, so a page that reconnects catches up with ``hello{last_seq}``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from livestream.broadcast import AUDIENCE_ALL, AUDIENCE_MODERATORS, audience_user, room_send
from livestream.store import SEQ_CURRENT, SEQ_NEXT, SEQ_NONE, Store, store_get

NAMESPACE = "disc:"


def store() -> Store:
    return store_get(NAMESPACE)


def _later(*, space_id: int, audience: str, payload: dict[str, Any], mode: str) -> None:
    transaction.on_commit(
        lambda: room_send(
            namespace=NAMESPACE, room_id=space_id, audience=audience, payload=payload, mode=mode
        ),
        robust=True,
    )


def to_all(*, space_id: int, payload: dict[str, Any]) -> None:
    _later(space_id=space_id, audience=AUDIENCE_ALL, payload=payload, mode=SEQ_NEXT)


def to_moderators(*, space_id: int, payload: dict[str, Any]) -> None:
    """Moderator-only events carry the current seq and stay out of the ring (a moderator's
    page always reloads its review list on reconnect)."""
    _later(space_id=space_id, audience=AUDIENCE_MODERATORS, payload=payload, mode=SEQ_CURRENT)


def to_user(*, space_id: int, user_id: int, payload: dict[str, Any]) -> None:
    _later(space_id=space_id, audience=audience_user(user_id), payload=payload, mode=SEQ_NONE)


def seq_current(*, space_id: int) -> int:
    try:
        return store().seq_current(lecture_id=space_id)
    except Exception:  # Redis away: the page still renders; its socket resyncs later
        return 0
