from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LivestreamConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "livestream"
    verbose_name = _("Live room")

    def ready(self) -> None:
        from livestream import privacy  # noqa: F401  (its part of a person's download)
        from livestream.receivers import on_user_sessions_ended
        from portal.models import user_sessions_ended

        user_sessions_ended.connect(on_user_sessions_ended, dispatch_uid="livestream.revoke")
