"""Domain errors of the courses app: each carries a machine-readable code."""

from __future__ import annotations

import enum

from django.utils.translation import gettext_lazy as _

from portal.errors import CodedError


class EnrolmentErrorCode(enum.Enum):
    NOT_IN_AUDIENCE = "not_in_audience"
    NO_UNIT = "no_unit"
    NOT_ENROLLED = "not_enrolled"
    NOT_PUBLISHED = "not_published"
    ASSIGNED_ONLY = "assigned_only"
    VENUE_OUTSIDE = "venue_outside"


_MESSAGES = {
    EnrolmentErrorCode.NOT_IN_AUDIENCE: _(
        "This programme is open to cadres of other units; your unit is not in its audience."
    ),
    EnrolmentErrorCode.NO_UNIT: _(
        "Your account has no unit yet; ask your organisation department to set it."
    ),
    EnrolmentErrorCode.NOT_ENROLLED: _("You are not enrolled in this programme."),
    EnrolmentErrorCode.NOT_PUBLISHED: _("This programme is not open yet."),
    EnrolmentErrorCode.ASSIGNED_ONLY: _(
        "Places in this programme are assigned by the organisers; you cannot enrol yourself."
    ),
    EnrolmentErrorCode.VENUE_OUTSIDE: _("The venue is not one of this programme's venues."),
}


class EnrolmentError(CodedError):
    """A refused enrolment action; ``code`` for APIs, ``message`` for people."""

    code: EnrolmentErrorCode
    messages = _MESSAGES


class ScheduleError(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)
