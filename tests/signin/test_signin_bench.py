"""A CI-sized run of ``bench/sign_in.py``: password, 浙政钉 and SMS-code sign-ins on
``make serve`` against the fakes, from one address, all signed in, CPU measured."""

from __future__ import annotations

import json
import os

import pytest

from tests.bench_support import bench_env, bench_run

pytestmark = pytest.mark.slow


def test_signin_bench_runs_small(redis_url: str) -> None:
    redis = os.environ.get("ZHIXING_TEST_SURGE_REDIS_URL", "redis://127.0.0.1:6379/8")
    with bench_env(
        database_var="BENCH_SIGNIN_DATABASE_URL", prefix="zx_signin", BENCH_SIGNIN_REDIS_URL=redis
    ) as env:
        done = bench_run("bench/sign_in.py", ["--json", "--sign-ins", "6"], env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[0])
    for method in ("password", "zwdd", "sms_code"):
        assert result[method]["signed_in"] == 6 and result[method]["other"] == 0, result
        assert result[method]["server_cpu_s_per_sign_in"] > 0, result
    assert done.stdout.strip().splitlines()[-1].startswith("sign-in (2 web")
