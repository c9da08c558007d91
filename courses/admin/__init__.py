"""The organisers' admin of the courses app (registered on import by Django's autodiscover)."""

from courses.admin import attendance, catalogue  # noqa: F401  (register the admins)
