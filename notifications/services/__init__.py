"""Write use cases of notifications: schedule, plan, claim, send, record, sweep.

The outbox rules (ARCHITECTURE.md §5):

* a ``Delivery`` row per (reminder, user, channel) exists before any provider call
  (unique key; planning is a bulk insert with ON CONFLICT DO NOTHING);
* a row is claimed by a conditional UPDATE (queued → sending, ``FOR UPDATE SKIP LOCKED``)
  and its outcome written back only while it is still ``sending`` in that same batch;
* transient errors are retried with backoff, jitter and a cap; throttling re-queues without
  spending an attempt; permanent errors move on to the user's next channel; fatal errors
  pause the channel; timeouts on APIs without idempotency become ``unknown`` and are
  reconciled, never resent blindly;
* a sweeper finishes what crashed workers left in ``sending``.
"""

from notifications.services.channels import channel_pause, channel_resume
from notifications.services.codes import sms_login_code_send
from notifications.services.digests import digest_reminder_create
from notifications.services.dispatch import (
    ClaimedRow,
    DispatchStats,
    delivery_dispatch,
    delivery_fallback,
    delivery_send_rows,
)
from notifications.services.inbox import (
    announcement_publish,
    inbox_mark_all_read,
    inbox_mark_read,
    notice_send_test,
)
from notifications.services.messages import (
    MessageText,
    message_context,
    message_render,
    message_source,
)
from notifications.services.planning import PlanResult, reminder_plan
from notifications.services.preferences import (
    channel_binding_set,
    delivery_withdraw_opted_out,
    notice_route_for_user,
    notify_preference_update,
)
from notifications.services.receipts import (
    PollStats,
    receipt_apply,
    receipt_poll,
    receipt_poll_all,
    webhook_replay_check,
)
from notifications.services.reminders import (
    reminder_cancel,
    reminder_claim_due,
    reminder_create,
    reminder_ensure_defaults,
    reminder_finish_done,
    reminder_resend_failed,
    reminder_send_now,
)
from notifications.services.sweep import SweepStats, delivery_reconcile_batch, delivery_sweep

__all__ = [
    "ClaimedRow",
    "DispatchStats",
    "MessageText",
    "PlanResult",
    "PollStats",
    "SweepStats",
    "announcement_publish",
    "channel_binding_set",
    "channel_pause",
    "channel_resume",
    "delivery_dispatch",
    "delivery_fallback",
    "delivery_reconcile_batch",
    "delivery_send_rows",
    "delivery_sweep",
    "delivery_withdraw_opted_out",
    "digest_reminder_create",
    "inbox_mark_all_read",
    "inbox_mark_read",
    "message_context",
    "message_render",
    "message_source",
    "notice_route_for_user",
    "notice_send_test",
    "notify_preference_update",
    "receipt_apply",
    "receipt_poll",
    "receipt_poll_all",
    "reminder_cancel",
    "reminder_claim_due",
    "reminder_create",
    "reminder_ensure_defaults",
    "reminder_finish_done",
    "reminder_plan",
    "reminder_resend_failed",
    "reminder_send_now",
    "sms_login_code_send",
    "webhook_replay_check",
]
