"""Pre-framed direct writes to daphne's websocket sockets: the ONE module that touches
daphne / autobahn / Twisted internals (tests/livestream/test_wire.py fails if they change).

Why: profiling the fan-out (bench/README.md, ws_fanout) showed most of the per-socket cost
is Twisted registering each socket for writing before every send and a writable callback after it,
plus autobahn framing the same payload once per socket. The hub frames a payload once and,
per socket, writes the bytes with one ``send()`` when the socket's Twisted buffer is empty
(the common case), falling back to ``transport.write()`` (Twisted's buffer) otherwise, so
ordering with autobahn's own writes is kept.

What is relied upon (checked by the tests):
* daphne ``Server.create_application`` passes ``send=partial(self.handle_reply, protocol)``;
  channels' ``InstanceSessionWrapper`` keeps the wrapped callable in ``real_send``;
* the protocol is an autobahn ``WebSocketServerProtocol`` (``state``, ``STATE_OPEN``,
  ``sendCloseFrame``) whose ``transport`` is a Twisted ``FileDescriptor`` with ``socket``,
  ``dataBuffer``, ``offset``, ``_tempDataLen``, ``connected``, ``disconnecting``.
Anything else (TLS terminated by daphne, HTTP/2, another server) gets ``None`` here and the
hub uses the ASGI ``send`` instead.
"""

from __future__ import annotations

import functools
import struct
from typing import Any


def frame_text(payload: bytes) -> bytes:
    """One unmasked, final text frame (RFC 6455 §5.2), as a server sends it."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def daphne_protocol(send: Any) -> Any | None:
    """The daphne WebSocketProtocol behind an ASGI ``send`` callable, if there is one."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is a dependency
        return None
    fn = send
    for _hop in range(8):
        if isinstance(fn, functools.partial):
            for arg in fn.args:
                if isinstance(arg, WebSocketProtocol):
                    return arg
            fn = fn.func
            continue
        owner = getattr(fn, "__self__", None)
        nxt = getattr(owner, "real_send", None) if owner is not None else None
        if nxt is None:
            return None
        fn = nxt
    return None


class DirectWriter:
    """Writes pre-framed bytes to one daphne websocket."""

    __slots__ = ("protocol", "sock", "transport")

    def __init__(self, protocol: Any) -> None:
        from twisted.internet.abstract import FileDescriptor

        self.protocol = protocol
        self.transport = protocol.transport
        plain = isinstance(self.transport, FileDescriptor) and hasattr(
            self.transport, "_tempDataLen"
        )
        self.sock = getattr(self.transport, "socket", None) if plain else None

    @property
    def is_open(self) -> bool:
        t = self.transport
        return (
            self.protocol.state == self.protocol.STATE_OPEN
            and bool(getattr(t, "connected", False))
            and not getattr(t, "disconnecting", False)
        )

    def buffered(self) -> int:
        """Bytes waiting in Twisted's buffer for this socket."""
        t = self.transport
        if self.sock is None:
            return 0
        return len(t.dataBuffer) - t.offset + t._tempDataLen

    def write(self, data: bytes) -> None:
        if not self.is_open:
            return
        t = self.transport
        if self.sock is not None and not t._tempDataLen and t.offset == len(t.dataBuffer):
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                sent = 0  # Twisted finds and reports the broken socket on its own write
            if sent >= len(data):
                return
            data = data[sent:]
        t.write(data)

    def close(self, code: int) -> None:
        """Start the closing handshake with any code, 1009 included (autobahn's public
        ``sendClose`` only allows 1000 and 3000-4999, and daphne turns its error into 1011)."""
        if self.protocol.state == self.protocol.STATE_OPEN:
            self.protocol.sendCloseFrame(code=code, isReply=False)


def direct_writer_for(send: Any) -> DirectWriter | None:
    protocol = daphne_protocol(send)
    if protocol is None or getattr(protocol, "transport", None) is None:
        return None
    return DirectWriter(protocol)
