from django.apps import AppConfig


class ZwddProviderConfig(AppConfig):
    # allauth finds providers as ``<installed app>.provider``.
    name = "signin.zwdd"
    label = "signin_zwdd"
    verbose_name = "浙政钉"
