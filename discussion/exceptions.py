"""Refusals of the discussion use cases: a code for the API and the socket, a message for
people (Chinese in the UI)."""

from __future__ import annotations

import enum

from django.utils.translation import gettext as _


class DiscussionErrorCode(enum.Enum):
    NOT_SIGNED_IN = "not_signed_in"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    LOCKED = "locked"
    CLOSED = "closed"


HTTP_STATUS = {
    DiscussionErrorCode.NOT_SIGNED_IN: 401,
    DiscussionErrorCode.FORBIDDEN: 403,
    DiscussionErrorCode.NOT_FOUND: 404,
    DiscussionErrorCode.INVALID: 400,
    DiscussionErrorCode.TOO_LONG: 400,
    DiscussionErrorCode.RATE_LIMITED: 429,
    DiscussionErrorCode.LOCKED: 409,
    DiscussionErrorCode.CLOSED: 409,
}


def _default_message(code: DiscussionErrorCode) -> str:
    return {
        DiscussionErrorCode.NOT_SIGNED_IN: _("Please sign in."),
        DiscussionErrorCode.FORBIDDEN: _("This discussion is for its members only."),
        DiscussionErrorCode.NOT_FOUND: _("This discussion or post does not exist."),
        DiscussionErrorCode.INVALID: _("That request was not understood."),
        DiscussionErrorCode.TOO_LONG: _("A post can have at most 2000 characters."),
        DiscussionErrorCode.RATE_LIMITED: _("You are posting too fast; please wait a moment."),
        DiscussionErrorCode.LOCKED: _("This thread is locked."),
        DiscussionErrorCode.CLOSED: _("The discussion opens when the lecture ends."),
    }[code]


class DiscussionError(Exception):
    def __init__(
        self, code: DiscussionErrorCode, message: str | None = None, *, retry_after: int = 0
    ) -> None:
        self.code = code
        self.message = message or _default_message(code)
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]
