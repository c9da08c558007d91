"""Test settings: the real settings with fast hashing and quiet logs.

Tests run against PostgreSQL whenever it answers (always in CI: ``CI=true`` or
``REQUIRE_SERVICES=1`` make a missing service an error, never a skip); locally they fall
back to SQLite. Redis-backed tests use ``ZHIXING_TEST_REDIS_URL`` (see tests/conftest.py).
"""

import os
import socket

import environ

from portal.settings import *  # noqa: F403
from portal.settings import LOGGING

REQUIRE_SERVICES = os.environ.get("CI", "").lower() == "true" or os.environ.get(
    "REQUIRE_SERVICES", ""
) in ("1", "true")

_pg_url = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/zhixing")


def _reachable(url: str, default_port: int) -> bool:
    parsed = environ.Env.db_url_config(url) if "://" in url else {}
    host = str(parsed.get("HOST") or "127.0.0.1")
    port = int(parsed.get("PORT") or default_port)
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


if REQUIRE_SERVICES or _reachable(_pg_url, 5432):
    DATABASES = {"default": environ.Env.db_url_config(_pg_url)}
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("ZHIXING_TEST_DB", "test_zhixing")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            "TEST": {"NAME": os.environ.get("ZHIXING_TEST_DB", "")},
        }
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"  # type: ignore[index]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
# Unit tests use the in-memory cache; Redis-backed tests opt in explicitly.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TEST_REDIS_URL = os.environ.get(
    "ZHIXING_TEST_REDIS_URL",
    f"redis://127.0.0.1:6379/{os.environ.get('ZHIXING_TEST_REDIS_DB', '15')}",
)
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
