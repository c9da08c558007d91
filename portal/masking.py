"""How personal data is shown where it must not be read in full (no Django imports: the
logging configuration uses it before the apps load)."""

from __future__ import annotations

import re

# 11 digits starting 13–19, optionally +86, not inside a longer run of digits
PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d{9})(?!\d)")


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``; empty stays empty."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def phones_masked(text: str) -> str:
    """Every mainland mobile number in ``text`` masked."""
    return PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(1)), text)
