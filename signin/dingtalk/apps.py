from django.apps import AppConfig


class DingtalkProviderConfig(AppConfig):
    # Installed instead of allauth.socialaccount.providers.dingtalk (same provider id).
    name = "signin.dingtalk"
    label = "signin_dingtalk"
    verbose_name = "钉钉"
