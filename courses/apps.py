from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoursesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "courses"
    verbose_name = _("Training programmes")

    def ready(self) -> None:
        from courses import privacy, signals  # noqa: F401 (receivers, personal data rules)
