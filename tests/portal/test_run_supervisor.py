"""``scripts/run.sh`` (what ``make run`` runs): serves, then stops everything on a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.livestream.servers import free_port, group_alive

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize(
    ("sig", "audience"),
    [(signal.SIGINT, 0), (signal.SIGTERM, 3)],
    ids=["SIGINT", "SIGTERM-with-audience"],
)
def test_run_serves_healthz_and_stops_its_whole_group(
    tmp_path: Path, sig: signal.Signals, audience: int
) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env |= {
        "PY": sys.executable,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "ZHIXING_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        ["bash", str(settings.BASE_DIR / "scripts" / "run.sh"), "--audience", str(audience)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        status, body = 0, b""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz/")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, (tmp_path / "run.log").read_text()
        assert json.loads(body)["checks"]["broker"] == "ok"
        assert _get(f"http://127.0.0.1:{port}/accounts/login/")[0] == 200
        if audience:  # make run AUDIENCE=3: three simulated viewers join the live lecture
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if (tmp_path / "run.log").read_text().count("WSCONNECT /ws/lectures/") >= audience:
                    break
                time.sleep(0.2)
            text = (tmp_path / "run.log").read_text()
            assert text.count("WSCONNECT /ws/lectures/") >= audience, text[-3000:]

        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not group_alive(proc.pid), "daphne or celery outlived the supervisor"
        assert proc.returncode == 128 + sig
        with pytest.raises(urllib.error.URLError):
            _get(f"http://127.0.0.1:{port}/healthz/")
    finally:
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
