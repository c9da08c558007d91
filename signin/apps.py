from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SigninConfig(AppConfig):
    name = "signin"
    verbose_name = _("Sign-in")

    def ready(self) -> None:
        from allauth.socialaccount.signals import social_account_added

        from signin import checks, privacy  # noqa: F401  (system checks; personal data)
        from signin.receivers import on_social_account_added

        social_account_added.connect(on_social_account_added, dispatch_uid="signin.added")
