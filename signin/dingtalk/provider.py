from __future__ import annotations

from allauth.socialaccount.providers.dingtalk.provider import (
    DingTalkProvider as AllauthDingTalkProvider,
)

from signin.dingtalk.views import DingTalkOAuth2Adapter


class DingTalkProvider(AllauthDingTalkProvider):
    name = "钉钉"
    oauth2_adapter_class = DingTalkOAuth2Adapter


provider_classes = [DingTalkProvider]
