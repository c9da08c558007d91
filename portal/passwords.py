"""The password rules for password accounts (staff, and cadres' fallback), each with a
Chinese explanation (docs/security.md §3): at least 8 characters, 3 of 4 character classes, not like
the username, name or phone, not a common password."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.password_validation import (
    MinimumLengthValidator as DjangoMinimumLengthValidator,
)
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CLASSES = (
    re.compile(r"[a-z]"),
    re.compile(r"[A-Z]"),
    re.compile(r"[0-9]"),
    re.compile(r"[^a-zA-Z0-9]"),
)


class CharacterClassesValidator:
    """At least ``min_classes`` of: lower-case letters, upper-case letters, digits, symbols."""

    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        if sum(bool(c.search(password)) for c in CLASSES) < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self) -> str:
        return _(
            "Use at least %(n)s of: lower-case letters, upper-case letters, digits and symbols."
        ) % {"n": self.min_classes}


class PhoneSimilarityValidator:
    """Not the account's mobile number, nor its last 8 digits within the password."""

    def validate(self, password: str, user: Any = None) -> None:
        phone = str(getattr(user, "phone", "") or "")
        if phone and (phone in password or phone[-8:] in password):
            raise ValidationError(self.get_help_text(), code="password_like_phone")

    def get_help_text(self) -> str:
        return _("Your password cannot contain your mobile number.")


class MinimumLengthValidator(DjangoMinimumLengthValidator):
    """Django's rule with its message in our catalogue (Django's plural message does not
    reach the zh-hans page beside the project's catalogue)."""

    def get_error_message(self) -> str:
        return _("This password is too short: use at least %(n)s characters.") % {
            "n": self.min_length
        }

    def get_help_text(self) -> str:
        return _("Use at least %(n)s characters.") % {"n": self.min_length}
