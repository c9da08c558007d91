from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = _("Notices")

    def ready(self) -> None:
        from notifications import privacy  # noqa: F401  (registers its purge: portal.privacy)
