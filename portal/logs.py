"""Log lines never carry a phone number in clear (docs/security.md §5).

``PhoneMaskFilter`` sits on every handler (settings.LOGGING): a mainland mobile number in
a record's message — from our code, a library, a traceback — is written as ``138****5678``.
The record is rendered once here and its arguments dropped, so a handler cannot format
the clear number back in."""

from __future__ import annotations

import logging

from portal.masking import phones_masked


class PhoneMaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = phones_masked(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = phones_masked(record.exc_text)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True
