"""``/healthz/``: 200 only when database, redis (if configured), the live fan-out's Redis
(``channel_layer``) and broker answer."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _redis_settings(url: str) -> dict[str, object]:
    """Point everything that can use Redis at ``url`` (as settings.py does for REDIS_URL)."""
    return {
        "REDIS_URL": url,
        "CELERY_BROKER_URL": url,
        "CELERY_BROKER_TRANSPORT_OPTIONS": {"visibility_timeout": 3600},
        "LIVE_REDIS_URL": url,
    }


@pytest.mark.django_db
def test_healthz_embedded_default_is_ok(client: Client) -> None:
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "channel_layer": "ok", "broker": "ok"}
    assert "failed" not in body
    assert "no-cache" in response["Cache-Control"]
    assert "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_with_redis_configured_and_up(client: Client, redis_url: str) -> None:
    with override_settings(**_redis_settings(redis_url)):
        response = client.get(reverse("healthz"))

    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {
        "database": "ok",
        "redis": "ok",
        "channel_layer": "ok",
        "broker": "ok",
    }


@pytest.mark.django_db
def test_the_live_fan_out_is_checked_on_its_own_redis(client: Client, redis_url: str) -> None:
    down = f"redis://127.0.0.1:{_unused_port()}/0"
    with override_settings(**{**_redis_settings(redis_url), "LIVE_REDIS_URL": down}):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["failed"] == ["channel_layer"]


@pytest.mark.django_db
def test_healthz_with_redis_configured_but_down_is_503(client: Client) -> None:
    down = f"redis://127.0.0.1:{_unused_port()}/0"

    started = time.monotonic()
    with override_settings(**_redis_settings(down)):
        response = client.get(reverse("healthz"))
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error")
    assert set(body["failed"]) == {"redis", "channel_layer", "broker"}
    assert "127.0.0.1" not in response.content.decode()  # no connection details leak
    assert elapsed < 5  # every check is bounded (2 s each, run concurrently)


@pytest.mark.django_db
def test_healthz_reports_a_missing_broker_folder(client: Client, tmp_path: object) -> None:
    missing = str(tmp_path) + "/no-such-folder"
    options = {"data_folder_in": missing, "data_folder_out": missing}
    with override_settings(
        CELERY_BROKER_URL="filesystem://", CELERY_BROKER_TRANSPORT_OPTIONS=options
    ):
        response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]


@pytest.mark.slow
@pytest.mark.django_db
def test_concurrent_probes_share_one_run_of_the_checks(redis_url: str, tmp_path: Path) -> None:
    import httpx

    from tests.livestream.servers import daphne, production_env

    env = production_env(
        redis_url=redis_url, prefix="zxhealth:", extra={"HEALTHZ_CACHE_SECONDS": "30"}
    )

    async def probes(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            first = await asyncio.gather(*(client.get("/healthz/") for _ in range(20)))
            return [*first, await client.get("/healthz/")]

    with daphne(env, log=tmp_path / "daphne.log") as port:
        responses = asyncio.run(probes(f"http://127.0.0.1:{port}"))
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert len({json.dumps(b["ms"], sort_keys=True) for b in bodies}) == 1  # one run for all
    assert bodies[-1]["age_ms"] > 0  # the later probe was answered from memory


@pytest.mark.django_db
def test_the_liveness_probe_checks_nothing(client: Client, django_assert_num_queries: Any) -> None:
    down = f"redis://127.0.0.1:{_unused_port()}/0"
    with override_settings(**_redis_settings(down)), django_assert_num_queries(0):
        response = client.get(reverse("healthz_live"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
