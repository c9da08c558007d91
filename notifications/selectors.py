"""Read use cases of notifications: audiences, addresses, progress, the inbox."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet
from django.http import Http404

from courses.models import Programme
from courses.selectors import enrolled_user_ids, programme_ids_enrolled, programme_list_managed
from notifications.models import (
    PUSH_CHANNELS,
    AnnouncementAttachment,
    Channel,
    ChannelBinding,
    Delivery,
    InboxMessage,
    NotifyPreference,
    ProgrammeOptOut,
    Reminder,
    ReminderKind,
    ReminderRecipient,
)
from notifications.providers.base import Receipt
from portal.models import User, mask_phone
from portal.scopes import Capability, scope_for


@dataclass
class Recipient:
    user_id: int
    addresses: dict[str, str] = field(default_factory=dict)
    channel_order: str = ""
    opted_out: bool = False


def audience_user_ids(*, reminder: Reminder) -> QuerySet[User, int]:
    """Who a reminder goes to: the programme's active enrolments, or (invitations)
    every active user in the programme's audience subtrees, or (digests) the active users
    among its explicit recipients."""
    if reminder.kind == ReminderKind.RANKING:  # 通报: the ranked units' leaders
        from notifications.services.bulletins import ranking_audience_user_ids

        return ranking_audience_user_ids(reminder=reminder)
    if reminder.kind == ReminderKind.DIGEST:
        return User.objects.filter(
            is_active=True,
            id__in=ReminderRecipient.objects.filter(reminder=reminder).values("user_id"),
        ).values_list("id", flat=True)
    if reminder.lecture is None:  # only digests (reminder_lecture_unless_digest)
        return User.objects.none().values_list("id", flat=True)
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
        id__in=enrolled_user_ids(programme=programme),
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
    if reminder.lecture is None:  # a digest belongs to no programme to opt out of
        return list(users.values())
    for user_id in ProgrammeOptOut.objects.filter(
        programme_id=reminder.lecture.programme_id, user_id__in=audience
    ).values_list("user_id", flat=True):
        if user_id in users:
            users[user_id].opted_out = True  # no push notices about this programme
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
    """Reminders of the programmes ``user`` may manage (superusers: all, digests too)."""
    qs = Reminder.objects.select_related("lecture", "lecture__programme")
    if user.is_superuser:
        return qs
    # Digests have no lecture, so no programme: no organiser's scope covers them.
    return qs.filter(
        lecture__isnull=False, lecture__programme__in=programme_list_managed(user=user)
    )


def delivery_list_managed(*, user: User) -> QuerySet[Delivery]:
    """Deliveries of the reminders ``user`` may manage (``reminder_list_managed``)."""
    qs = Delivery.objects.select_related("reminder", "reminder__lecture", "user")
    if user.is_superuser:
        return qs
    return qs.filter(
        reminder__lecture__isnull=False,
        reminder__lecture__programme__in=programme_list_managed(user=user),
    )


def inbox_list(*, user: User) -> QuerySet[InboxMessage]:
    return InboxMessage.objects.filter(user=user).order_by("-created_at", "-id")


def inbox_unread_count(*, user: User) -> int:
    if not user.is_authenticated:
        return 0
    return InboxMessage.objects.filter(user=user, read_at__isnull=True).count()


def attachment_get_for_user(*, user: User, attachment_id: int) -> AnnouncementAttachment:
    """An attachment the user may download: a recipient of its announcement (the inbox
    message exists) or a staff member whose scope covers the announcement's unit.
    Anything else is ``Http404`` (existence is not revealed)."""
    attachment = (
        AnnouncementAttachment.objects.select_related("announcement", "announcement__unit")
        .filter(pk=attachment_id)
        .first()
    )
    if attachment is None or not user.is_authenticated:
        raise Http404
    if InboxMessage.objects.filter(user=user, announcement_id=attachment.announcement_id).exists():
        return attachment
    if user.is_staff and user.is_active:
        scope = scope_for(user=user, capability=Capability.MANAGE_PROGRAMMES)
        if scope.contains(attachment.announcement.unit):
            return attachment
    raise Http404


# ---------------------------------------------------------------------------
# A user's own notice preferences (the /me/notifications/ page)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BindingView:
    channel: str
    label: str
    address: str  # masked
    verified: bool
    usable: bool  # verified, switched on and (WeChat) for our official account


def address_mask(*, channel: str, address: str) -> str:
    """Phones as ``138****5678``; ids keep their first and last few characters."""
    if channel == Channel.SMS:
        return mask_phone(address)
    if len(address) <= 6:
        return "*" * len(address)
    return f"{address[:3]}****{address[-3:]}"


def binding_list_for_user(*, user: User) -> list[BindingView]:
    enabled = set(settings.NOTIFY_CHANNELS)
    appid = settings.NOTIFY_WECHAT_APPID
    labels = dict(Channel.choices)
    views: list[BindingView] = []
    bound = {b.channel: b for b in ChannelBinding.objects.filter(user=user)}
    for channel in PUSH_CHANNELS:
        binding = bound.get(channel)
        if binding is not None:
            right_app = channel != Channel.WECHAT or not appid or binding.appid == appid
            views.append(
                BindingView(
                    channel,
                    str(labels[channel]),
                    address_mask(channel=channel, address=binding.address),
                    binding.verified,
                    binding.verified and right_app and channel in enabled,
                )
            )
        elif channel == Channel.SMS and user.phone:
            views.append(
                BindingView(
                    channel,
                    str(labels[channel]),
                    mask_phone(user.phone),
                    True,
                    channel in enabled,
                )
            )
    return views


def notify_preference_get(*, user: User) -> NotifyPreference | None:
    return NotifyPreference.objects.filter(user=user).first()


def programme_opt_out_ids(*, user: User) -> set[int]:
    return set(ProgrammeOptOut.objects.filter(user=user).values_list("programme_id", flat=True))


def programme_list_for_notice_prefs(*, user: User) -> QuerySet[Programme]:
    """Programmes whose reminders the user gets (active enrolments) or opted out of."""
    return (
        Programme.objects.filter(
            Q(pk__in=programme_ids_enrolled(user=user)) | Q(pk__in=programme_opt_out_ids(user=user))
        )
        .order_by("title")
        .distinct()
    )


def programme_opt_outs_by_reminder(
    *, reminder_ids: Iterable[int], user_ids: Iterable[int]
) -> set[tuple[int, int]]:
    """(reminder_id, user_id) pairs whose user opted out of the reminder's programme
    (never a digest's: it has no programme)."""
    programme_of = dict(
        Reminder.objects.filter(id__in=list(reminder_ids), lecture__isnull=False).values_list(
            "id", "lecture__programme_id"
        )
    )
    if not programme_of:
        return set()
    opted: dict[int, set[int]] = defaultdict(set)
    for user_id, programme_id in ProgrammeOptOut.objects.filter(
        user_id__in=list(user_ids), programme_id__in=set(programme_of.values())
    ).values_list("user_id", "programme_id"):
        opted[programme_id].add(user_id)
    return {
        (reminder_id, user_id)
        for reminder_id, programme_id in programme_of.items()
        for user_id in opted.get(programme_id, ())
    }


def delivery_poll_task_ids(
    *, channel: str, sent_before: datetime, deadline_after: datetime, limit: int
) -> list[str]:
    """Provider message ids (DingTalk task ids) with rows still waiting for a receipt:
    ``accepted``, sent before ``sent_before``, receipt deadline after ``deadline_after``;
    the least recently asked (``updated_at``) first."""
    return list(
        Delivery.objects.filter(
            channel=channel,
            status=Delivery.Status.ACCEPTED,
            claimed_at__lt=sent_before,
            fallback_after__gt=deadline_after,
        )
        .exclude(provider_message_id="")
        .values("provider_message_id")
        .annotate(asked=Min("updated_at"))
        .order_by("asked", "provider_message_id")
        .values_list("provider_message_id", flat=True)[: max(0, limit)]
    )


def receipt_count_unmatched(*, channel: str, receipts: Sequence[Receipt]) -> int:
    """How many reports match no outbox row (by provider message id and address, or by
    our batch id and address), whatever that row's state: e.g. another application on
    the same account, or a test send (no row)."""
    serials = {r.provider_message_id for r in receipts if r.provider_message_id}
    batches = {r.batch_id for r in receipts if r.batch_id}
    addresses = {r.address for r in receipts}
    known_ids: set[tuple[str, str]] = set()
    known_batches: set[tuple[str, str]] = set()
    if serials or batches:
        match = Q(provider_message_id__in=serials) | Q(batch_id__in=batches)
        for pmid, batch_id, address in Delivery.objects.filter(
            match, channel=channel, address__in=addresses
        ).values_list("provider_message_id", "batch_id", "address"):
            if pmid:
                known_ids.add((pmid, address))
            if batch_id:
                known_batches.add((batch_id, address))
    return sum(
        1
        for r in receipts
        if (r.provider_message_id, r.address) not in known_ids
        and (r.batch_id, r.address) not in known_batches
    )
