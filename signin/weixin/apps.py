from django.apps import AppConfig


class WeixinProviderConfig(AppConfig):
    # Installed instead of allauth.socialaccount.providers.weixin (same provider id).
    name = "signin.weixin"
    label = "signin_weixin"
    verbose_name = "微信"
