"""``/healthz/``: is this process able to serve? (contract: ARCHITECTURE.md §7.3)

Checks, run concurrently, each bounded by ``HEALTH_CHECK_TIMEOUT`` (2 s):

* ``database``: ``SELECT 1`` on the default connection;
* ``redis``: ``PING`` to ``REDIS_URL`` (only when it is configured);
* ``channel_layer``: the live fan-out between processes works — a message published on a
  fresh channel of ``LIVE_REDIS_URL`` arrives back (the name is kept from when Channels'
  layer was meant to carry it: a contract); without ``LIVE_REDIS_URL`` the fan-out is this
  process's memory and the check passes;
* ``broker``: a kombu connection to ``CELERY_BROKER_URL`` (for the embedded
  ``filesystem://`` broker: its folders exist and are writable).

200 with ``{"status": "ok", ...}`` only when every check passes, 503 otherwise with
``"failed": [...]`` naming the failing checks. Error details name the exception class
only, so the public endpoint leaks no host names or credentials.

Cheap under probes: one process runs the checks at most once per
``HEALTHZ_CACHE_SECONDS`` (2 s) and concurrent probes share the run in flight; ``age_ms``
(additive) says how old the answer is. Responses are never cached by HTTP caches.
``/healthz/live/`` checks nothing: the process answers (a liveness probe).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from portal.process_state import process_state_reset

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
    url: str = settings.LIVE_REDIS_URL
    if not url:
        return
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=HEALTH_CHECK_TIMEOUT, socket_timeout=HEALTH_CHECK_TIMEOUT
    )
    pubsub = client.pubsub()
    channel = f"{settings.LIVE_REDIS_PREFIX}healthz:{uuid.uuid4().hex}"
    nonce = uuid.uuid4().hex.encode()
    try:
        await pubsub.subscribe(channel)
        await client.publish(channel, nonce)
        # None also stands for the subscription's own confirmation: read until the deadline
        # (the caller's timeout bounds the whole check)
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None and message.get("data") == nonce:
                return
    finally:
        await pubsub.aclose()
        await client.aclose()


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


async def _check_all() -> dict[str, object]:
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
    return body


# (what is checked) → (when, body); and the run in flight per event loop
_answers: dict[tuple[object, ...], tuple[float, dict[str, object]]] = {}
_running: dict[tuple[int, tuple[object, ...]], asyncio.Task[dict[str, object]]] = {}


@process_state_reset
def _answers_forget() -> None:
    _answers.clear()
    _running.clear()


def _key() -> tuple[object, ...]:
    return (
        settings.REDIS_URL,
        settings.CELERY_BROKER_URL,
        str(settings.DATABASES["default"].get("NAME")),
        settings.LIVE_REDIS_URL,
        repr(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})),
    )


@never_cache
async def healthz(request: HttpRequest) -> JsonResponse:
    key = _key()
    now = time.monotonic()
    cached = _answers.get(key)
    if cached is None or now - cached[0] > float(settings.HEALTHZ_CACHE_SECONDS):
        running_key = (id(asyncio.get_running_loop()), key)
        task = _running.get(running_key)
        if task is None or task.done():
            task = asyncio.ensure_future(_check_all())
            _running[running_key] = task
        try:
            body = await asyncio.shield(task)
        finally:
            if task.done() and _running.get(running_key) is task:
                del _running[running_key]
        cached = (time.monotonic(), body)
        _answers[key] = cached
    at, body = cached
    answer = {**body, "age_ms": round((time.monotonic() - at) * 1000, 1)}
    return JsonResponse(answer, status=503 if body["status"] != "ok" else 200)


@never_cache
async def healthz_live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
