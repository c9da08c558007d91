"""A CI-sized run of ``bench/sign_in.py``: password, 浙政钉 and SMS-code sign-ins on
``make serve`` against the fakes, from one address, all signed in, CPU measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.slow


def test_signin_bench_runs_small(redis_url: str) -> None:
    db = connection.settings_dict
    name = f"zx_signin_{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ZHIXING_"))},
        "BENCH_SIGNIN_DATABASE_URL": (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{name}"
        ),
        "BENCH_SIGNIN_REDIS_URL": os.environ.get(
            "ZHIXING_TEST_SURGE_REDIS_URL", "redis://127.0.0.1:6379/8"
        ),
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    try:
        done = subprocess.run(
            [sys.executable, "bench/sign_in.py", "--json", "--sign-ins", "6"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        result = json.loads(done.stdout.strip().splitlines()[0])
        for method in ("password", "zwdd", "sms_code"):
            assert result[method]["signed_in"] == 6 and result[method]["other"] == 0, result
            assert result[method]["server_cpu_s_per_sign_in"] > 0, result
        assert done.stdout.strip().splitlines()[-1].startswith("sign-in (2 web")
    finally:
        sys.path.insert(0, str(settings.BASE_DIR / "bench"))
        from _support import recreate_database

        recreate_database(env["BENCH_SIGNIN_DATABASE_URL"], create=False)
