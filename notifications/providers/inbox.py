"""The in-site inbox: always on; writing the rows is the delivery (idempotent by key)."""

from __future__ import annotations

from collections.abc import Sequence

from notifications.models import Channel, InboxMessage
from notifications.providers.base import OutMessage, Provider, SendResult, ok


class InboxProvider(Provider):
    name = "inbox"
    channel = Channel.INBOX
    batch_size = 1000
    idempotent = True

    def send_batch(
        self, messages: Sequence[OutMessage], *, idempotency_key: str
    ) -> list[SendResult]:
        InboxMessage.objects.bulk_create(
            [
                InboxMessage(
                    user_id=m.user_id,
                    reminder_id=m.reminder_id,
                    title=m.subject[:200],
                    body=m.body,
                    link=m.link[:300],
                )
                for m in messages
            ],
            ignore_conflicts=True,
        )
        return [ok(m, f"inbox-{m.reminder_id}-{m.user_id}", delivered=True) for m in messages]
