"""Test settings: the real settings with fast hashing and quiet logs."""

from portal.settings import *  # noqa: F403
from portal.settings import LOGGING

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"  # type: ignore[index]
SECURE_SSL_REDIRECT = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
