"""DirectWriter: a stream's chunks go straight to uvicorn's transport in uvicorn's chunked
framing, except when uvicorn's send would have waited or dropped them; the last chunk ends
the response through the send."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import pytest
from serve_helpers import make_app, served, sse_events
from tests.service.asgi_peer import Peer

from llmemu.service.api import sse
from llmemu.service.api.direct import DirectWriter, body_writer
from llmemu.service.api.eager import EagerWriter

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


def _writer() -> tuple[DirectWriter, SimpleNamespace, Peer]:
    peer = Peer()
    cycle = SimpleNamespace(transport=Transport(), flow=SimpleNamespace(write_paused=False), disconnected=False, chunked_encoding=True)  # fmt: skip
    return DirectWriter(peer.send, cycle), cycle, peer


async def test_chunks_are_framed_as_uvicorn_frames_them_and_the_last_goes_through_send():
    writer, cycle, peer = _writer()
    writer.write(b"data: x\n\n")  # 9 bytes: "9\r\n" + body + "\r\n"
    writer.write(b"0123456789abcdef")  # 16 bytes: size in hex, "10"
    writer.write(b"end", more=False)
    assert cycle.transport.written == [b"9\r\ndata: x\n\n\r\n", b"10\r\n0123456789abcdef\r\n"]
    assert peer.bodies == [(b"end", False)]


async def test_a_paused_client_gets_the_send_that_waits_and_later_chunks_queue_behind_it():
    writer, cycle, peer = _writer()
    cycle.flow.write_paused = True
    peer.paused = asyncio.Event()
    writer.write(b"1")  # uvicorn would wait for the client: the ASGI path does
    cycle.flow.write_paused = False
    writer.write(b"2")  # behind the waiting send, not around it
    peer.paused.set()
    await writer.drain()
    assert cycle.transport.written == []
    assert peer.bodies == [(b"1", True), (b"2", True)]


async def test_nothing_is_written_for_a_client_that_left():
    writer, cycle, peer = _writer()
    cycle.disconnected = True
    writer.write(b"1")
    assert cycle.transport.written == [] and peer.bodies == []


async def test_other_servers_get_the_asgi_writer():
    assert type(body_writer(Peer().send)) is EagerWriter


def test_a_stream_over_uvicorn_is_written_directly_and_reads_as_before(monkeypatch):
    kinds = []

    def recording(send):
        writer = body_writer(send)
        kinds.append(type(writer))
        return writer

    monkeypatch.setattr(sse, "body_writer", recording)
    body = b'{"prompt": "hi", "max_tokens": 5, "ignore_eos": true, "stream": true}'
    with served(make_app(speed=20)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" + b"content-length: %d\r\n\r\n" % len(body) + body)  # fmt: skip
            raw = b""
            while not raw.endswith(b"0\r\n\r\n"):
                raw += s.recv(65536)
    assert kinds == [DirectWriter]
    head, _, chunked = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    text = b""
    while chunked:  # take the chunked framing apart by hand: size line, data, CRLF
        size_line, _, rest = chunked.partition(b"\r\n")
        size = int(size_line, 16)
        text, chunked = text + rest[:size], rest[size + 2 :]
    events = sse_events(text.decode())
    assert events[-1] == "[DONE]"
    assert len(events) == 6  # five tokens, each in its own iteration, then [DONE]
    assert all(e["object"] == "text_completion" for e in events[:-1])
