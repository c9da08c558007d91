from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = _("Organisations and accounts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django.db.models.signals import post_save

        from portal.models import User
        from portal.sessions.policy import session_policy_on_login
        from portal.sessions.revoke import (
            user_access_changed,
            user_session_forget,
            user_session_record,
        )

        user_logged_in.connect(session_policy_on_login, dispatch_uid="portal.session_policy")
        user_logged_in.connect(user_session_record, dispatch_uid="portal.session_record")
        user_logged_out.connect(user_session_forget, dispatch_uid="portal.session_forget")
        post_save.connect(user_access_changed, sender=User, dispatch_uid="portal.user_access")
