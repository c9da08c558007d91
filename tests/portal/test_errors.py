"""``portal.errors.CodedError``: the one base of coded domain errors."""

from __future__ import annotations

import enum

from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from portal.errors import CodedError


class _Code(enum.Enum):
    FULL = "full"
    OTHER = "other"


class _Error(CodedError):
    messages = {_Code.FULL: _("Please sign in first.")}


def test_code_and_default_message_translated_at_use() -> None:
    error = _Error(_Code.FULL)
    assert error.code is _Code.FULL
    assert error.code_value == "full"
    assert str(error) == "full"
    with override("zh-hans"):
        assert error.message == "请先登录。"
    with override("en"):
        assert error.message == "Please sign in first."


def test_explicit_message_wins_and_unknown_code_falls_back_to_the_code() -> None:
    assert _Error(_Code.FULL, "自定义").message == "自定义"
    assert _Error(_Code.OTHER).message == "other"
    assert isinstance(_Error(_Code.OTHER), Exception)
