"""The provider registry: channel → configured adapter (``NOTIFY_<CHANNEL>_PROVIDER``)."""

from __future__ import annotations

from django.conf import settings

from notifications.providers.base import Provider


def provider_for(channel: str) -> Provider:
    """A fresh adapter for ``channel`` as configured now (settings are read each time)."""
    from notifications.providers.console import ConsoleProvider
    from notifications.providers.inbox import InboxProvider

    if channel == "inbox":
        return InboxProvider()
    name = {
        "sms": settings.NOTIFY_SMS_PROVIDER,
        "wechat": settings.NOTIFY_WECHAT_PROVIDER,
        "dingtalk": settings.NOTIFY_DINGTALK_PROVIDER,
        "zwdd": settings.NOTIFY_ZWDD_PROVIDER,
    }[channel]
    if name == "console":
        return ConsoleProvider(channel)
    if channel == "sms" and name == "aliyun":
        from notifications.providers.sms import AliyunSmsProvider

        return AliyunSmsProvider()
    if channel == "sms" and name == "tencent":
        from notifications.providers.sms import TencentSmsProvider

        return TencentSmsProvider()
    if channel == "wechat" and name == "wechat":
        from notifications.providers.wechat import WechatProvider

        return WechatProvider()
    if channel == "dingtalk" and name == "dingtalk":
        from notifications.providers.dingtalk import DingtalkProvider

        return DingtalkProvider()
    if channel == "zwdd" and name == "zwdd":
        from notifications.providers.zwdd import ZwddProvider

        return ZwddProvider()
    raise ValueError(f"unknown provider {name!r} for channel {channel!r}")


def channel_rate(channel: str) -> float:
    return {
        "inbox": 0.0,
        "sms": settings.NOTIFY_SMS_RATE,
        "wechat": settings.NOTIFY_WECHAT_RATE,
        "dingtalk": settings.NOTIFY_DINGTALK_RATE,
        "zwdd": settings.NOTIFY_ZWDD_RATE,
    }[channel]
