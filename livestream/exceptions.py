"""Domain errors of the live room; each carries a protocol error code."""

from __future__ import annotations

import enum

from django.utils.translation import gettext_lazy as _

from portal.errors import CodedError


class LiveErrorCode(enum.Enum):
    INVALID = "invalid"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    NOT_SIGNED_IN = "not_signed_in"  # only at connect time (close 4401)
    BUSY = "busy"  # not the user's fault (the database or Redis is busy): retry
    CLAIMED = "claimed"  # another moderator is working on it (issue 19): retry_after


_MESSAGES = {
    LiveErrorCode.INVALID: _("That request was not understood."),
    LiveErrorCode.TOO_LONG: _("A question can have at most 300 characters."),
    LiveErrorCode.RATE_LIMITED: _("You are going too fast; please wait a moment."),
    LiveErrorCode.FORBIDDEN: _("You are not allowed to do that."),
    LiveErrorCode.NOT_FOUND: _("That question or lecture does not exist."),
    LiveErrorCode.NOT_SIGNED_IN: _("Please sign in first."),
    LiveErrorCode.BUSY: _("The server is busy; please try again in a moment."),
    LiveErrorCode.CLAIMED: _("Another moderator is handling this question."),
}


class LiveError(CodedError):
    """A refused live-room request. ``message`` is for people (Chinese in the UI)."""

    code: LiveErrorCode
    messages = _MESSAGES

    def __init__(
        self,
        code: LiveErrorCode,
        message: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after
