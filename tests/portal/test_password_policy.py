"""The password policy: ≥ 8 characters, 3 of 4 classes, not like the username or phone,
not common; every refusal explained in Chinese."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import (
    password_validators_help_texts,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.utils import translation

from portal.models import User

pytestmark = pytest.mark.django_db


def _errors(password: str, user: User) -> list[str]:
    with translation.override("zh-hans"):
        try:
            validate_password(password, user)
        except ValidationError as exc:
            return list(exc.messages)
    return []


@pytest.fixture
def staff() -> User:
    return User(username="zhangwei", full_name="张伟", phone="13812345678")


def test_good_passwords_pass(staff: User) -> None:
    assert _errors("Lingyin#2026", staff) == []
    assert _errors("qiantang-river-7", staff) == []  # lower, symbol, digit


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Ab1!", "密码太短"),
        ("alllowercaseletters", "四类中的3类"),
        ("12345678901", "只包含数字"),
        ("Zhangwei2026", "太相似"),
        ("X13812345678!", "不能包含您的手机号码"),
        ("Password123", "太常见"),
    ],
)
def test_each_rule_is_explained_in_chinese(staff: User, password: str, expected: str) -> None:
    errors = _errors(password, staff)
    assert any(expected in e for e in errors), errors


def test_the_rules_are_listed_in_chinese() -> None:
    with translation.override("zh-hans"):
        texts = " ".join(password_validators_help_texts())
    assert "四类中的3类" in texts and "手机号码" in texts and "8" in texts
