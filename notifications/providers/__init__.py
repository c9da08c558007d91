"""The provider registry: channel → configured adapter (``NOTIFY_<CHANNEL>_PROVIDER``).

One table says which adapter serves which (channel, provider name); adding a provider is a
line here and a class with ``channel``, ``batch_size`` and ``send_batch``. ``console``
serves every push channel (the embedded default); the in-site inbox has its own adapter.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.providers.base import Provider

PROVIDERS: dict[tuple[str, str], str] = {
    ("sms", "aliyun"): "notifications.providers.sms.AliyunSmsProvider",
    ("sms", "tencent"): "notifications.providers.sms.TencentSmsProvider",
    ("wechat", "wechat"): "notifications.providers.wechat.WechatProvider",
    ("dingtalk", "dingtalk"): "notifications.providers.dingtalk.DingtalkProvider",
    ("zwdd", "zwdd"): "notifications.providers.zwdd.ZwddProvider",
}
CONSOLE = "notifications.providers.console.ConsoleProvider"  # any push channel
INBOX = "notifications.providers.inbox.InboxProvider"
PUSH = ("sms", "wechat", "dingtalk", "zwdd")


def provider_name(channel: str) -> str:
    """The configured provider of a push channel (``NOTIFY_SMS_PROVIDER`` …)."""
    if channel not in PUSH:
        raise ValueError(f"unknown channel {channel!r}")
    return str(getattr(settings, f"NOTIFY_{channel.upper()}_PROVIDER"))


def provider_for(channel: str) -> Provider:
    """A fresh adapter for ``channel`` as configured now (settings are read each time)."""
    if channel == "inbox":
        inbox: type[Provider] = import_string(INBOX)
        return inbox()
    name = provider_name(channel)
    if name == "console":
        console: Callable[[str], Provider] = import_string(CONSOLE)
        return console(channel)
    dotted = PROVIDERS.get((channel, name))
    if dotted is None:
        raise ValueError(f"unknown provider {name!r} for channel {channel!r}")
    adapter: type[Provider] = import_string(dotted)
    return adapter()


def channel_rate(channel: str) -> float:
    """Messages per second the channel may send (``NOTIFY_<CHANNEL>_RATE``; inbox: unlimited)."""
    if channel == "inbox":
        return 0.0
    if channel not in PUSH:
        raise KeyError(channel)
    return float(getattr(settings, f"NOTIFY_{channel.upper()}_RATE"))
