"""A small simulated audience for the demo evening (``make run AUDIENCE=N``): N generated
cadres in the live room, each on its own websocket, sending heartbeats at the server's
interval and now and then voting for a published question, so the viewer count, the
dashboard and the vote counts move while someone looks at the demo.

The clients speak the room's protocol like the page does (docs/live-protocol.md): a
``state`` first, ``heartbeat`` every ``state.heartbeat_seconds``, ``question.vote``, and a
reconnect with backoff and jitter when the socket closes. Sessions are made directly in
the session store (no 0.4 s password check per simulated cadre).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import signal
import time
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

from courses.models import Enrolment, Lecture
from demo import programme as data
from demo.seed import CADRE_USERNAME_PREFIX
from portal.models import User


class AudienceError(Exception):
    """The simulated audience cannot start (no demo data, a bad URL)."""


@dataclass
class AudienceReport:
    connected: int = 0  # sockets that got their state (reconnects included)
    heartbeats_acked: int = 0
    votes: int = 0
    errors: int = 0  # error frames from the server
    closes: int = 0
    viewers_seen: int = 0  # the highest viewer count any client was told
    seconds: float = 0.0
    codes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def audience_lecture(*, lecture_id: int | None = None) -> Lecture:
    """The lecture the audience watches: the one given, else the demo's live lecture."""
    qs = Lecture.objects.select_related("programme")
    lecture = (
        qs.filter(pk=lecture_id).first()
        if lecture_id is not None
        else qs.filter(programme__title=data.PROGRAMME_TITLE, sequence=data.LIVE_SEQUENCE).first()
    )
    if lecture is None:
        raise AudienceError(
            f"No lecture {lecture_id}." if lecture_id else "No demo lecture: run seed_demo first."
        )
    return lecture


def audience_sessions(*, lecture: Lecture, count: int) -> list[str]:
    """Session keys of ``count`` generated cadres enrolled in the lecture's programme."""
    users = list(
        User.objects.filter(
            username__startswith=CADRE_USERNAME_PREFIX,
            is_active=True,
            enrolments__programme_id=lecture.programme_id,
            enrolments__status=Enrolment.Status.ACTIVE,
        ).order_by("username")[:count]
    )
    if len(users) < count:
        raise AudienceError(
            f"Only {len(users)} generated cadres are enrolled; seed more with "
            f"seed_demo --cadres (asked for {count})."
        )
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    backend = settings.AUTHENTICATION_BACKENDS[0]
    keys = []
    for user in users:
        session = store_class()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(str(session.session_key))
    return keys


async def _read(ws: Any, questions: list[int], report: AudienceReport) -> None:
    """Everything the server sends: counted, and new published questions to vote for."""
    async for raw in ws:
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "heartbeat.ack":
            report.heartbeats_acked += 1
        elif kind == "viewers":
            report.viewers_seen = max(report.viewers_seen, int(frame["count"]))
        elif kind in ("question.published", "question.updated") and frame.get("question"):
            if int(frame["question"]["id"]) not in questions:
                questions.append(int(frame["question"]["id"]))
        elif kind == "error":
            report.errors += 1
            code = str(frame.get("code"))
            report.codes[code] = report.codes.get(code, 0) + 1


async def _viewer(
    *,
    url: str,
    origin: str,
    session_key: str,
    vote_every: float,
    report: AudienceReport,
    stop: asyncio.Event,
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    rng = random.Random(session_key)  # noqa: S311 - a simulation, not security
    backoff = 1.0
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}", "Origin": origin}
    while not stop.is_set():
        try:
            async with connect(url, additional_headers=headers, open_timeout=20) as ws:
                state = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if state.get("type") != "state":
                    report.errors += 1
                    return
                report.connected += 1
                backoff = 1.0
                questions = [q["id"] for q in state.get("questions", [])]
                interval = float(state.get("heartbeat_seconds") or 30)

                reader = asyncio.create_task(_read(ws, questions, report))
                report.viewers_seen = max(report.viewers_seen, int(state.get("viewers", 0)))
                now = time.monotonic()
                next_beat = now + rng.uniform(0, min(interval, 1.0))  # like the page: soon, spread
                next_vote = now + rng.uniform(0, 2 * vote_every) if vote_every > 0 else math.inf
                while not stop.is_set() and not reader.done():
                    now = time.monotonic()
                    if now >= next_beat:
                        await ws.send(json.dumps({"type": "heartbeat", "playing": True}))
                        next_beat = now + interval
                    if now >= next_vote and questions:
                        choice = rng.choice(questions)
                        await ws.send(
                            json.dumps({"type": "question.vote", "question_id": choice, "up": True})
                        )
                        report.votes += 1
                        next_vote = now + rng.uniform(0.5, 1.5) * vote_every
                    try:
                        await asyncio.wait_for(
                            stop.wait(), max(0.05, min(next_beat, next_vote) - time.monotonic())
                        )
                    except TimeoutError:
                        pass
                reader.cancel()
        except (OSError, TimeoutError, WebSocketException, json.JSONDecodeError):
            pass
        if stop.is_set():
            return
        report.closes += 1
        try:  # the page's backoff: doubling with full jitter, capped
            await asyncio.wait_for(stop.wait(), rng.uniform(0, backoff))
        except TimeoutError:
            pass
        backoff = min(backoff * 2, 30.0)


async def audience_run(
    *,
    base_url: str,
    lecture_id: int,
    session_keys: list[str],
    vote_every: float,
    duration: float | None,
) -> AudienceReport:
    """Keep the audience in the room until SIGINT/SIGTERM or ``duration`` seconds."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AudienceError(f"Not an http(s) URL: {base_url!r}")
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    url = f"{ws_scheme}://{parts.netloc}/ws/lectures/{lecture_id}/"
    origin = f"{parts.scheme}://{parts.netloc}"
    report = AudienceReport()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    tasks = []
    for key in session_keys:  # arrive over a second or two, not in one burst
        tasks.append(
            asyncio.create_task(
                _viewer(
                    url=url,
                    origin=origin,
                    session_key=key,
                    vote_every=vote_every,
                    report=report,
                    stop=stop,
                )
            )
        )
        await asyncio.sleep(0.02)
    if duration is not None:
        try:
            await asyncio.wait_for(stop.wait(), duration)
        except TimeoutError:
            stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    report.seconds = time.monotonic() - started
    return report
