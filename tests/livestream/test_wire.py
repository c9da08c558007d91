"""The library internals livestream/wire.py relies on. If one of these fails after an
upgrade of daphne, autobahn, Twisted or channels, fix wire.py (or set LIVE_DIRECT_WRITE=off)."""

from __future__ import annotations

import functools
import inspect

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from livestream import wire


def _parse(data: bytes) -> list[Frame]:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while len(reader.buffer):
        gen = Frame.parse(reader.read_exact, mask=False)
        try:
            next(gen)
        except StopIteration as done:
            frames.append(done.value)
    return frames


def test_two_frames_written_together_parse_as_two_messages():
    frames = _parse(wire.frame_text(b'{"a":1}') + wire.frame_text(b'{"b":2}'))
    assert [f.data for f in frames] == [b'{"a":1}', b'{"b":2}']


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_frame_text_is_a_valid_unmasked_text_frame(size):
    payload = ("字" * size).encode()[:size]
    (frame,) = _parse(wire.frame_text(payload))
    assert frame.opcode == Opcode.TEXT
    assert frame.fin
    assert frame.data == payload


def test_daphne_passes_a_partial_of_handle_reply_with_the_protocol():
    from daphne.server import Server

    source = inspect.getsource(Server.create_application)
    assert "send=partial(self.handle_reply, protocol)" in source


def test_channels_session_wrapper_keeps_real_send():
    from channels.sessions import InstanceSessionWrapper

    assert "self.real_send = send" in inspect.getsource(InstanceSessionWrapper.__init__)


def test_autobahn_protocol_api():
    from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
    from daphne.ws_protocol import WebSocketProtocol

    assert issubclass(WebSocketProtocol, AutobahnProtocol)
    assert hasattr(WebSocketProtocol, "STATE_OPEN")
    params = inspect.signature(AutobahnProtocol.sendCloseFrame).parameters
    assert {"code", "isReply"} <= set(params)


def test_twisted_transport_buffer_attributes():
    from twisted.internet import tcp
    from twisted.internet.abstract import FileDescriptor

    assert issubclass(tcp.Server, FileDescriptor)
    fd = FileDescriptor()
    assert fd.dataBuffer == b""
    assert fd.offset == 0
    assert fd._tempDataLen == 0
    assert isinstance(fd._tempDataBuffer, list)


def test_daphne_protocol_is_found_through_the_session_wrapper():
    from channels.sessions import InstanceSessionWrapper
    from daphne.ws_protocol import WebSocketProtocol

    protocol = WebSocketProtocol.__new__(WebSocketProtocol)

    async def handle_reply(proto, message):  # stands in for Server.handle_reply
        return None

    send = functools.partial(handle_reply, protocol)
    wrapper = InstanceSessionWrapper({"type": "websocket", "cookies": {}}, send)
    assert wire.daphne_protocol(wrapper.send) is protocol
    assert wire.daphne_protocol(send) is protocol

    async def other_send(message):
        return None

    assert wire.daphne_protocol(other_send) is None
