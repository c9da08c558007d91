""".env.example lists every variable the settings read (ARCHITECTURE.md §3)."""

from __future__ import annotations

import re

from django.conf import settings

ENV_READ = re.compile(r"""\benv(?:iron\.Env\(\))?\.\w+\(\s*["']([A-Z][A-Z0-9_]*)["']""")
LISTED = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def test_env_example_lists_every_variable_settings_read() -> None:
    source = (settings.BASE_DIR / "portal" / "settings.py").read_text("utf-8")
    read = set(ENV_READ.findall(source))
    listed = set(LISTED.findall((settings.BASE_DIR / ".env.example").read_text("utf-8")))

    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"} <= read  # the regex works
    assert sorted(read - listed) == []


def test_env_example_sets_the_values_compose_needs() -> None:
    text = (settings.BASE_DIR / ".env.example").read_text("utf-8")
    assigned = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE))

    assert assigned["DEBUG"] == "false"
    assert assigned["SECRET_KEY"]
    assert assigned["POSTGRES_PASSWORD"]
    assert "localhost" in assigned["ALLOWED_HOSTS"].split(",")  # the container health check
