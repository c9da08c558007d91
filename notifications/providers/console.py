"""The embedded default: messages are logged and kept in memory (no provider needed)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from notifications.providers.base import OutMessage, Provider, SendResult, ok

logger = logging.getLogger("notifications.console")


class ConsoleProvider(Provider):
    name = "console"
    batch_size = 500
    idempotent = True
    sent: deque[tuple[str, OutMessage]] = deque(maxlen=10_000)

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send_batch(
        self, messages: Sequence[OutMessage], *, idempotency_key: str
    ) -> list[SendResult]:
        results = []
        for message in messages:
            logger.info("[%s → %s] %s", self.channel, message.address, message.body)
            self.sent.append((self.channel, message))
            results.append(ok(message, f"console-{message.delivery_id}", delivered=True))
        return results
