"""Domain errors of the notifications app: each carries a machine-readable code."""

from __future__ import annotations

import enum

from django.utils.translation import gettext_lazy as _

from portal.errors import CodedError


class NotifyErrorCode(enum.Enum):
    IN_PAST = "in_past"
    LECTURE_STARTED = "lecture_started"
    NOT_CANCELLABLE = "not_cancellable"
    NO_ADDRESS = "no_address"
    CHANNEL_OFF = "channel_off"
    DUPLICATE = "duplicate"
    BAD_CHANNEL = "bad_channel"
    CHANNEL_REPEATED = "channel_repeated"
    NOT_YOUR_PROGRAMME = "not_your_programme"


_MESSAGES = {
    NotifyErrorCode.IN_PAST: _("The reminder time is in the past."),
    NotifyErrorCode.LECTURE_STARTED: _("The lecture has already started."),
    NotifyErrorCode.NOT_CANCELLABLE: _("This reminder has finished and cannot be cancelled."),
    NotifyErrorCode.NO_ADDRESS: _("You have no address on this channel."),
    NotifyErrorCode.CHANNEL_OFF: _("This channel is not switched on."),
    NotifyErrorCode.DUPLICATE: _("This lecture already has a reminder of this kind."),
    NotifyErrorCode.BAD_CHANNEL: _("Unknown notice channel."),
    NotifyErrorCode.CHANNEL_REPEATED: _("Each channel can be chosen only once."),
    NotifyErrorCode.NOT_YOUR_PROGRAMME: _(
        "You can only opt out of programmes you are enrolled in."
    ),
}


class NotifyError(CodedError):
    """A refused notification action; ``code`` for APIs, ``message`` for people."""

    code: NotifyErrorCode
    messages = _MESSAGES
