"""A small threaded HTTP server with a request log and injectable faults.

Each provider fake subclasses ``FakeServer`` and implements ``route``. Faults are queued
with ``inject(kind, times=n)`` and consumed by the next matching calls:

* ``5xx``: answer 503;
* ``timeout``: carry out the request, then stall past the client's timeout (the client
  cannot know whether it was carried out);
* ``timeout_before``: stall without carrying it out;
* ``throttle``, ``token_expired``, ``quota``, ``permanent``, ``system``: the provider's own
  error codes (see each fake).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class FakeServer:
    #: paths (prefixes) where faults apply; others (token endpoints) answer normally.
    fault_paths: tuple[str, ...] = ()

    def __init__(self, *, latency: float = 0.0, stall: float = 3.0) -> None:
        self.latency = latency
        self.stall = stall
        self.requests: list[Recorded] = []
        self.in_flight = 0  # requests received and not yet answered (or dropped)
        self.faults: deque[str] = deque()
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, port: int = 0) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as two writes: without TCP_NODELAY the body waits for
            # the client's delayed ACK (40 ms a call on a kept-alive connection)
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                rec = Recorded(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake.lock:
                    fake.requests.append(rec)
                    fake.in_flight += 1
                try:
                    self._answer(rec)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

            def _answer(self, rec: Recorded) -> None:
                if fake.latency:
                    time.sleep(fake.latency)
                reply = fake.dispatch(rec)
                if reply is None:  # the connection is dropped after a stall
                    self.close_connection = True
                    return
                payload = (
                    reply.raw
                    if reply.raw is not None
                    else json.dumps(reply.body, ensure_ascii=False).encode()
                )
                try:
                    self.send_response(reply.status)
                    self.send_header(
                        "Content-Type",
                        reply.headers.pop("Content-Type", "application/json; charset=utf-8"),
                    )
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = _handle
            do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------
    def inject(self, kind: str, times: int = 1) -> None:
        with self.lock:
            self.faults.extend([kind] * times)

    def _take_fault(self, path: str) -> str | None:
        if self.fault_paths and not path.startswith(self.fault_paths):
            return None
        with self.lock:
            return self.faults.popleft() if self.faults else None

    def dispatch(self, rec: Recorded) -> Reply | None:
        fault = self._take_fault(rec.path)
        if fault == "5xx":
            return Reply(503, {"message": "service unavailable"})
        if fault == "timeout_before":
            time.sleep(self.stall)
            return None
        if fault == "timeout":
            self.route(rec, None)  # carried out; the answer is lost
            time.sleep(self.stall)
            return None
        return self.route(rec, fault)

    def route(self, rec: Recorded, fault: str | None) -> Reply:
        raise NotImplementedError
