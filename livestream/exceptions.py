"""Domain errors of the live room; each carries a protocol error code."""

from __future__ import annotations

import enum

from django.utils.translation import gettext_lazy as _


class LiveErrorCode(enum.Enum):
    INVALID = "invalid"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    NOT_SIGNED_IN = "not_signed_in"  # only at connect time (close 4401)


_MESSAGES = {
    LiveErrorCode.INVALID: _("That request was not understood."),
    LiveErrorCode.TOO_LONG: _("A question can have at most 300 characters."),
    LiveErrorCode.RATE_LIMITED: _("You are going too fast; please wait a moment."),
    LiveErrorCode.FORBIDDEN: _("You are not allowed to do that."),
    LiveErrorCode.NOT_FOUND: _("That question or lecture does not exist."),
    LiveErrorCode.NOT_SIGNED_IN: _("Please sign in first."),
}


class LiveError(Exception):
    """A refused live-room request. ``message`` is for people (Chinese in the UI)."""

    def __init__(
        self,
        code: LiveErrorCode,
        message: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        self.code = code
        self._message = message
        self.retry_after = retry_after
        super().__init__(code.value)

    @property
    def message(self) -> str:
        return self._message if self._message is not None else str(_MESSAGES[self.code])
