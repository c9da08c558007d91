"""Inbox and announcements: test notices, reading, publishing."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from notifications import selectors
from notifications.exceptions import NotifyError, NotifyErrorCode
from notifications.models import Announcement, Channel, InboxMessage, Reminder
from notifications.providers import provider_for
from notifications.providers.base import OutMessage
from notifications.services.messages import message_render
from portal.models import User
from portal.services import audit_log_write

logger = logging.getLogger(__name__)


def notice_send_test(*, reminder: Reminder, user: User, channel: str) -> str:
    """Send this reminder's text to ``user`` only (admin "send a test to me").

    No outbox row: a test never counts as the user's notice for the reminder."""
    if channel != Channel.INBOX and channel not in settings.NOTIFY_CHANNELS:
        raise NotifyError(NotifyErrorCode.CHANNEL_OFF)
    profile = selectors.recipient_profiles(user_ids={user.pk}).get(user.pk)
    address = (
        "" if channel == Channel.INBOX else (profile.addresses.get(channel, "") if profile else "")
    )
    if channel != Channel.INBOX and not address:
        raise NotifyError(NotifyErrorCode.NO_ADDRESS)
    text = message_render(reminder=reminder, channel=channel)
    if channel == Channel.INBOX:
        InboxMessage.objects.create(
            user=user, title=f"[测试] {text.subject}"[:200], body=text.body, link=text.link
        )
        return "inbox"
    provider = provider_for(channel)
    try:
        results = provider.send_batch(
            [
                OutMessage(
                    0,
                    reminder.pk,
                    user.pk,
                    address,
                    text.subject,
                    text.body,
                    text.link,
                    reminder.kind,
                    text.params,
                )
            ],
            idempotency_key=f"test-{uuid.uuid4().hex}",
        )
    finally:
        provider.close()
    result = results[0]
    if not result.ok and result.error is not None:
        raise result.error
    return result.provider_message_id


def inbox_mark_read(*, user: User, message_id: int) -> InboxMessage:
    message = InboxMessage.objects.get(pk=message_id, user=user)
    if message.read_at is None:
        message.read_at = timezone.now()
        InboxMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(
            read_at=message.read_at
        )
    return message


def inbox_mark_all_read(*, user: User) -> int:
    return InboxMessage.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def announcement_publish(*, announcement: Announcement, by: User | None) -> int:
    """Put an announcement in the inbox of everyone in its subtree (idempotent)."""
    now = timezone.now()
    link = f"/inbox/announcements/{announcement.pk}/"
    user_ids: QuerySet[User, int] = User.objects.filter(
        is_active=True, unit__path__startswith=announcement.unit.path
    ).values_list("id", flat=True)
    before = InboxMessage.objects.filter(announcement=announcement).count()
    batch: list[InboxMessage] = []
    for user_id in user_ids.iterator(chunk_size=5000):
        batch.append(
            InboxMessage(
                user_id=user_id,
                announcement=announcement,
                title=announcement.title,
                body=announcement.body[:500],
                link=link,
                created_at=now,
            )
        )
        if len(batch) >= 5000:
            InboxMessage.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        InboxMessage.objects.bulk_create(batch, ignore_conflicts=True)
    created = InboxMessage.objects.filter(announcement=announcement).count() - before
    Announcement.objects.filter(pk=announcement.pk, published_at__isnull=True).update(
        published_at=now, published_by=by
    )
    audit_log_write(
        user=by,
        action="announcement.publish",
        target=f"announcement:{announcement.pk}",
        detail={"unit": announcement.unit_id, "recipients": created},
    )
    return created
