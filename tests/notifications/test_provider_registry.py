"""The provider registry: one table of (channel, name) → adapter, read from the settings."""

from __future__ import annotations

import pytest
from django.utils.module_loading import import_string
from pytest_django.fixtures import Settings

from notifications.providers import CONSOLE, PROVIDERS, channel_rate, provider_for


@pytest.mark.parametrize(("key", "dotted"), sorted(PROVIDERS.items()))
def test_every_entry_is_an_adapter_of_its_channel(key: tuple[str, str], dotted: str) -> None:
    channel, _name = key
    adapter = import_string(dotted)
    assert adapter.channel == channel
    assert adapter.batch_size >= 1


@pytest.mark.parametrize(("key", "dotted"), sorted(PROVIDERS.items()))
def test_the_setting_chooses_the_adapter(
    settings: Settings, key: tuple[str, str], dotted: str
) -> None:
    channel, name = key
    setattr(settings, f"NOTIFY_{channel.upper()}_PROVIDER", name)
    assert type(provider_for(channel)) is import_string(dotted)


@pytest.mark.parametrize("channel", ["sms", "wechat", "dingtalk", "zwdd"])
def test_console_serves_every_push_channel(settings: Settings, channel: str) -> None:
    setattr(settings, f"NOTIFY_{channel.upper()}_PROVIDER", "console")
    provider = provider_for(channel)
    assert type(provider) is import_string(CONSOLE)
    assert provider.channel == channel


def test_an_unknown_provider_or_channel_is_refused(settings: Settings) -> None:
    settings.NOTIFY_SMS_PROVIDER = "wechat"  # a provider of another channel
    with pytest.raises(ValueError, match="unknown provider 'wechat' for channel 'sms'"):
        provider_for("sms")
    with pytest.raises(ValueError, match="unknown channel"):
        provider_for("fax")


def test_rates_come_from_the_channel_settings(settings: Settings) -> None:
    settings.NOTIFY_SMS_RATE = 42.0
    assert channel_rate("sms") == 42.0
    assert channel_rate("inbox") == 0.0
