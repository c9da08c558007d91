from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiscussionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "discussion"
    verbose_name = _("Discussion")

    def ready(self) -> None:
        from discussion.reports import register

        register()  # the report's optional columns (?extra=discussion)
