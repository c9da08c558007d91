"""``manage.py check --deploy`` stays clean with production settings (docs/security.md §8):
HSTS, secure cookies, SSL redirect, a strong secret, DEBUG off — nothing silenced."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = {  # as a deployment runs: none of the test run's own switches
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ZHIXING_"))},
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "zhixing.example.gov.cn",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout
