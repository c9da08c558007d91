from __future__ import annotations

from allauth.socialaccount.providers.weixin.provider import WeixinProvider as AllauthWeixinProvider

from signin.weixin.views import WeixinOAuth2Adapter


class WeixinProvider(AllauthWeixinProvider):
    name = "微信"
    oauth2_adapter_class = WeixinOAuth2Adapter

    def get_default_scope(self) -> list[str]:
        return ["snsapi_base"]  # silent inside WeChat: the openid is all a binding needs


provider_classes = [WeixinProvider]
