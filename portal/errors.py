"""The one base of the project's coded errors.

A refused request carries a machine-readable ``code`` (an enum whose values are the codes
APIs and the websocket protocol send) and a ``message`` for people, translated (Chinese in
the UI). Each app declares its codes and their default messages and subclasses
``CodedError``; views, consumers and commands render ``code``/``message`` without knowing
which app raised it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.functional import Promise


class CodedError(Exception):
    """Base of every domain error. Subclasses set ``messages`` (code → default message)."""

    messages: ClassVar[Mapping[Any, str | Promise]] = {}

    def __init__(self, code: enum.Enum, message: str | Promise | None = None) -> None:
        self.code = code
        self._message = message
        super().__init__(str(code.value))

    @property
    def code_value(self) -> str:
        """The code as it goes over the wire."""
        return str(self.code.value)

    @property
    def message(self) -> str:
        if self._message is not None:
            return str(self._message)
        default = self.messages.get(self.code)
        return str(default) if default is not None else str(self.code.value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r})"
