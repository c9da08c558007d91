"""``/healthz/``: is this process able to serve? (contract: ARCHITECTURE.md §7.3)

Checks, run concurrently, each bounded by ``HEALTH_CHECK_TIMEOUT`` (2 s):

* ``database``: ``SELECT 1`` on the default connection;
* ``redis``: ``PING`` to ``REDIS_URL`` (only when it is configured);
* ``channel_layer``: a message sent to a fresh channel comes back from it;
* ``broker``: a kombu connection to ``CELERY_BROKER_URL`` (for the embedded
  ``filesystem://`` broker: its folders exist and are writable).

200 with ``{"status": "ok", ...}`` only when every check passes, 503 otherwise with
``"failed": [...]`` naming the failing checks. Never cached. Error details name the
exception class only, so the public endpoint leaks no host names or credentials.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

HEALTH_CHECK_TIMEOUT = 2.0

Check = Callable[[], Awaitable[None]]


class HealthCheckError(Exception):
    """A check ran but found the service unusable."""


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
    if not row or row[0] != 1:
        raise HealthCheckError("unexpected reply")


async def check_database() -> None:
    # thread_sensitive: the request's own DB connection (and the test transaction).
    await sync_to_async(_database, thread_sensitive=True)()


async def check_redis() -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=HEALTH_CHECK_TIMEOUT,
        socket_timeout=HEALTH_CHECK_TIMEOUT,
    )
    try:
        if not await cast("Awaitable[bool]", client.ping()):
            raise HealthCheckError("no PONG")
    finally:
        await client.aclose()


async def check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise HealthCheckError("no channel layer configured")
    channel = await layer.new_channel("healthz.")
    nonce = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz.ping", "nonce": nonce})
    message = await layer.receive(channel)
    if message.get("nonce") != nonce:
        raise HealthCheckError("wrong message received")


def _broker() -> None:
    from kombu import Connection

    url: str = settings.CELERY_BROKER_URL
    options: dict[str, object] = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}))
    if url.startswith("filesystem://"):
        for key in ("data_folder_in", "data_folder_out"):
            folder = str(options.get(key, ""))
            if not folder or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                raise HealthCheckError(f"{key} is missing or not writable")
    with Connection(url, connect_timeout=HEALTH_CHECK_TIMEOUT, transport_options=options) as conn:
        conn.ensure_connection(max_retries=1, timeout=HEALTH_CHECK_TIMEOUT)
        conn.default_channel  # noqa: B018  (opens a channel: proves the session works)


async def check_broker() -> None:
    await sync_to_async(_broker, thread_sensitive=False)()


def health_checks() -> dict[str, Check]:
    checks: dict[str, Check] = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = check_redis
    checks["channel_layer"] = check_channel_layer
    checks["broker"] = check_broker
    return checks


async def _run(check: Check) -> tuple[str, float]:
    started = time.monotonic()
    try:
        await asyncio.wait_for(check(), timeout=HEALTH_CHECK_TIMEOUT)
    except TimeoutError:
        result = "error: timeout"
    except Exception as exc:  # any failure of the checked service is reported, not raised
        result = f"error: {type(exc).__name__}"
    else:
        result = "ok"
    return result, round((time.monotonic() - started) * 1000, 1)


@never_cache
async def healthz(request: HttpRequest) -> JsonResponse:
    checks = health_checks()
    outcomes = await asyncio.gather(*(_run(check) for check in checks.values()))
    results = {name: result for name, (result, _ms) in zip(checks, outcomes, strict=True)}
    timings = {name: ms for name, (_result, ms) in zip(checks, outcomes, strict=True)}
    failed = [name for name, result in results.items() if result != "ok"]
    body: dict[str, object] = {
        "status": "error" if failed else "ok",
        "checks": results,
        "ms": timings,
    }
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)
