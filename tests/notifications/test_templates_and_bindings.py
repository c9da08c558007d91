"""Bad input: template placeholders and length, phone numbers, WeChat appids."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from pytest_django.fixtures import Settings

from notifications.models import ChannelBinding, MessageTemplate
from portal.models import User

pytestmark = pytest.mark.django_db


def test_unknown_placeholder_is_rejected() -> None:
    template = MessageTemplate(channel="sms", kind="reminder_1h", body="{{ titel }} 开讲")
    with pytest.raises(ValidationError) as exc:
        template.full_clean()
    assert "titel" in str(exc.value)


def test_sms_over_length_is_rejected(settings: Settings) -> None:
    settings.NOTIFY_SMS_MAX_CHARS = 70
    template = MessageTemplate(
        channel="sms", kind="reminder_1h", body="《{{ title }}》" + "请准时参加学习。" * 6
    )
    with pytest.raises(ValidationError) as exc:
        template.full_clean()
    assert exc.value.error_dict["body"][0].code == "sms_too_long"


def test_syntax_error_is_rejected() -> None:
    template = MessageTemplate(channel="dingtalk", kind="reminder_1h", body="{% if %}")
    with pytest.raises(ValidationError):
        template.full_clean()


def test_good_template_renders_for_send() -> None:
    MessageTemplate(
        channel="sms", kind="reminder_1h", body="《{{ title }}》{{ time }}开始 {{ link }}"
    ).full_clean()


def test_malformed_phone_binding(cadre: User) -> None:
    with pytest.raises(ValidationError):
        ChannelBinding(user=cadre, channel="sms", address="1381234").full_clean()


def test_wechat_binding_for_another_appid(cadre: User, settings: Settings) -> None:
    settings.NOTIFY_WECHAT_APPID = "wx0123456789abcdef"
    binding = ChannelBinding(
        user=cadre, channel="wechat", address="oABCDEFGHIJKLMNOPQRST", appid="wxfedcba9876543210"
    )
    with pytest.raises(ValidationError) as exc:
        binding.full_clean()
    assert exc.value.error_dict["appid"][0].code == "other_appid"
    binding.appid = "wx0123456789abcdef"
    binding.full_clean()
