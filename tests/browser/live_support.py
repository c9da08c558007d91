"""Shared pieces of the live-room browser tests: a real daphne and signed-in contexts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.test import Client as HttpClient

from portal.models import User
from tests.livestream.servers import daphne, production_env


def session_cookie(user: User) -> str:
    client = HttpClient()
    client.force_login(user)
    return client.cookies["sessionid"].value


def live_server_env(redis_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a test's portal processes (production settings, Redis)."""
    return production_env(
        redis_url=redis_url,
        prefix=f"zxb:{uuid.uuid4().hex[:8]}:",
        extra={"DEBUG": "true", "LIVE_VIEWERS_INTERVAL_SECONDS": "1", **(extra or {})},
    )


def live_server_url_for(env: dict[str, str], log_dir: Path) -> Iterator[str]:
    """Run the portal on a real daphne with ``env`` for one test."""
    with daphne(env, log=log_dir / "daphne.log") as port:
        yield f"http://127.0.0.1:{port}"


def live_server_url(
    redis_url: str, log_dir: Path, extra: dict[str, str] | None = None
) -> Iterator[str]:
    """Run the portal on a real daphne (production settings, Redis) for one test."""
    yield from live_server_url_for(live_server_env(redis_url, extra), log_dir)


def signed_in_page(
    browser: Any, server: str, user: User, url: str, viewport: dict[str, int]
) -> Any:
    """A new context signed in as ``user`` with ``url`` open; the caller closes the context."""
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": server}])
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.opened_sockets = sockets  # the websockets this page opened (a room opens one)
    page.goto(url)
    return page
