"""Signals from below, handed to the live store."""

from __future__ import annotations

import logging
from typing import Any

from livestream.store import store_get

logger = logging.getLogger(__name__)


def on_user_sessions_ended(sender: Any, user_ids: list[int], reason: str, **kwargs: Any) -> None:
    # Every hub closes these users' sockets at its next tick (livestream/hub.py).
    try:
        store_get().revoke(user_ids=user_ids)
    except Exception:  # Redis down: the sessions are gone; sockets end at their next reconnect
        logger.warning("live: could not record the revocation of %s", user_ids, exc_info=True)
