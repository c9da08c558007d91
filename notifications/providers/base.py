"""Provider adapters: the boundary between the outbox and the outside world.

A provider takes a batch of ``OutMessage`` (at most ``batch_size``) and returns one
``SendResult`` per message, or raises ``ProviderError`` for the whole call. Error kinds:

* ``retryable``: 5xx, timeouts on idempotent APIs, provider "system busy": retried with
  backoff, jitter and a cap;
* ``throttled``: re-queued without spending an attempt, after ``retry_after`` seconds;
* ``permanent``: this recipient can never be reached on this channel (invalid number,
  WeChat 43004/40003, blacklisted): recorded, the next channel in the user's order is tried;
* ``fatal``: the channel itself is broken (template/signature not approved, balance,
  quota): the channel is paused and organisers are alerted in the admin;
* ``unknown``: the request may or may not have been carried out (a timeout on an API with no
  idempotency key, e.g. Aliyun): never resent blindly, reconciled by receipt or query.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field


class ErrorKind(enum.StrEnum):
    RETRYABLE = "retryable"
    THROTTLED = "throttled"
    PERMANENT = "permanent"
    FATAL = "fatal"
    UNKNOWN = "unknown"


class ProviderError(Exception):
    def __init__(
        self,
        kind: ErrorKind | str,
        code: str,
        detail: str = "",
        *,
        retry_after: float | None = None,
    ) -> None:
        self.kind = ErrorKind(kind)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(f"{self.kind}: {code} {detail}".strip())


@dataclass(frozen=True)
class OutMessage:
    delivery_id: int
    reminder_id: int
    user_id: int
    address: str
    subject: str
    body: str
    link: str
    kind: str
    params: dict[str, str] = field(default_factory=dict)  # title, time, speaker, link …


@dataclass(frozen=True)
class SendResult:
    delivery_id: int
    ok: bool
    provider_message_id: str = ""
    delivered: bool = False  # final on acceptance (inbox, console)
    error: ProviderError | None = None


@dataclass(frozen=True)
class Receipt:
    """A delivery report: which message (by provider id and/or our batch id) ended how."""

    provider_message_id: str
    address: str
    delivered: bool
    code: str = ""
    detail: str = ""
    batch_id: str = ""


class Provider:
    """Subclasses set ``channel``, ``batch_size`` and implement ``send_batch``."""

    name: str = "base"
    channel: str = ""
    batch_size: int = 1
    # A request repeated with the same key is carried out once: a stuck batch may be resent.
    idempotent: bool = False
    # Accepted messages get a delivery report later (webhook or polling).
    has_receipts: bool = False
    # ``reconcile`` sees everything the provider took: an address it does not report was
    # never sent and may be queued again. False when the query only shows carrier reports
    # (Tencent): not found then proves nothing and the row stays ``unknown``.
    reconcile_complete: bool = True

    def send_batch(
        self, messages: Sequence[OutMessage], *, idempotency_key: str
    ) -> list[SendResult]:
        raise NotImplementedError

    def rate_key(self) -> str:
        """The account the token bucket is shared by."""
        return f"{self.channel}:{self.name}"

    def poll(self, provider_message_ids: Sequence[str]) -> list[Receipt]:
        """Fetch receipts for accepted messages (providers without push)."""
        return []

    def pull_reports(self, *, limit: int) -> list[Receipt]:
        """The next reports the provider keeps queued for the account (Tencent
        ``PullSmsSendStatus``): each report is handed out once, so apply what this
        returns before pulling again. At most ``limit``; fewer = the queue is empty."""
        return []

    def reconcile(self, *, batch_id: str, addresses: Sequence[str]) -> dict[str, str] | None:
        """For ``unknown`` rows: which addresses of that batch did the provider take?

        Returns ``{address: provider_message_id}`` for those it has, or ``None`` when the
        provider cannot tell (the rows then stay unknown).
        """
        return None

    def close(self) -> None:
        return None


def ok(message: OutMessage, provider_message_id: str, *, delivered: bool = False) -> SendResult:
    return SendResult(
        message.delivery_id, True, provider_message_id=provider_message_id, delivered=delivered
    )


def failed(message: OutMessage, error: ProviderError) -> SendResult:
    return SendResult(message.delivery_id, False, error=error)
