"""Read use cases of notifications: audiences, addresses, progress, the inbox."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from courses.models import Enrolment, Programme
from courses.selectors import programme_list_managed
from notifications.models import (
    ChannelBinding,
    Delivery,
    InboxMessage,
    NotifyPreference,
    Reminder,
    ReminderKind,
)
from portal.models import User


@dataclass
class Recipient:
    user_id: int
    addresses: dict[str, str] = field(default_factory=dict)
    channel_order: str = ""
    opted_out: bool = False


def audience_user_ids(*, reminder: Reminder) -> QuerySet[User, int]:
    """Who a reminder goes to: the programme's active enrolments, or (invitations)
    every active user in the programme's audience subtrees."""
    programme: Programme = reminder.lecture.programme
    if reminder.kind == ReminderKind.INVITATION:
        paths = list(programme.audience.values_list("path", flat=True))
        if not paths:
            return User.objects.none().values_list("id", flat=True)
        q = Q()
        for path in paths:
            q |= Q(unit__path__startswith=path)
        return User.objects.filter(q, is_active=True).values_list("id", flat=True)
    return User.objects.filter(
        is_active=True,
        id__in=Enrolment.objects.filter(programme=programme, status=Enrolment.Status.ACTIVE).values(
            "user_id"
        ),
    ).values_list("id", flat=True)


def _addresses(user_filter: Q, users: dict[int, Recipient], phones: dict[int, str]) -> None:
    enabled = set(settings.NOTIFY_CHANNELS)
    appid = settings.NOTIFY_WECHAT_APPID
    for user_id, channel, address, binding_appid in (
        ChannelBinding.objects.filter(user_filter, verified=True, channel__in=enabled)
        .values_list("user_id", "channel", "address", "appid")
        .iterator(chunk_size=20_000)
    ):
        if channel == "wechat" and appid and binding_appid != appid:
            continue  # an openid of another official account cannot be used
        if user_id in users:
            users[user_id].addresses[channel] = address
    if "sms" in enabled:
        for user_id, phone in phones.items():
            if phone and user_id in users:
                users[user_id].addresses.setdefault("sms", phone)
    for user_id, order, opted_out in (
        NotifyPreference.objects.filter(user_filter)
        .values_list("user_id", "channel_order", "opted_out")
        .iterator(chunk_size=20_000)
    ):
        if user_id in users:
            users[user_id].channel_order = order
            users[user_id].opted_out = opted_out


def recipient_rows(*, reminder: Reminder) -> list[Recipient]:
    """The audience with addresses and preferences (a few set-based queries)."""
    audience = audience_user_ids(reminder=reminder)
    phones: dict[int, str] = {}
    users: dict[int, Recipient] = {}
    for user_id, phone in (
        User.objects.filter(id__in=audience).values_list("id", "phone").iterator(chunk_size=20_000)
    ):
        users[user_id] = Recipient(user_id)
        phones[user_id] = phone or ""
    _addresses(Q(user_id__in=audience), users, phones)
    return list(users.values())


def recipient_profiles(*, user_ids: Iterable[int]) -> dict[int, Recipient]:
    ids = list(set(user_ids))
    users = {i: Recipient(i) for i in ids}
    phones = dict(User.objects.filter(id__in=ids).values_list("id", "phone"))
    _addresses(Q(user_id__in=ids), users, {k: v or "" for k, v in phones.items()})
    return users


def reminder_counts(*, reminder_id: int) -> dict[str, dict[str, int]]:
    """{channel: {status: n}} for one reminder."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for channel, status, n in (
        Delivery.objects.filter(reminder_id=reminder_id)
        .values_list("channel", "status")
        .annotate(n=Count("id"))
        .order_by("channel", "status")
    ):
        counts[channel][status] = n
    return dict(counts)


def reminder_list_managed(*, user: User) -> QuerySet[Reminder]:
    """Reminders of the programmes ``user`` may manage (superusers: all)."""
    qs = Reminder.objects.select_related("lecture", "lecture__programme")
    if user.is_superuser:
        return qs
    return qs.filter(lecture__programme__in=programme_list_managed(user=user))


def delivery_list_managed(*, user: User) -> QuerySet[Delivery]:
    qs = Delivery.objects.select_related("reminder", "reminder__lecture", "user")
    if user.is_superuser:
        return qs
    return qs.filter(reminder__lecture__programme__in=programme_list_managed(user=user))


def inbox_list(*, user: User) -> QuerySet[InboxMessage]:
    return InboxMessage.objects.filter(user=user).order_by("-created_at", "-id")


def inbox_unread_count(*, user: User) -> int:
    if not user.is_authenticated:
        return 0
    return InboxMessage.objects.filter(user=user, read_at__isnull=True).count()
