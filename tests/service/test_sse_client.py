"""The bench's lean client: a response read in any split gives the same record; errors in the
stream, error statuses and a server that closes are recorded as errors."""

from __future__ import annotations

import asyncio

import pytest

from llmemu.service.bench.records import Record
from llmemu.service.bench.sse_client import SseConnection

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
ROLE = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":" the"}}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'  # fmt: skip
DONE = b"data: [DONE]\n\n"


class Transport:
    def __init__(self) -> None:
        self.sent = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent += data

    def close(self) -> None:
        self.closed = True


async def exchange(response: bytes, step: int, *, close: bool = False) -> tuple[Record, bool]:
    """Feed `response` in reads of `step` bytes; returns the record and whether the
    connection could carry another request."""
    conn = SseConnection()
    conn.connection_made(Transport())
    rec = Record(0.0)
    pending = asyncio.ensure_future(conn.request(b"POST / HTTP/1.1\r\n\r\n", b"{}", rec))
    await asyncio.sleep(0)
    for i in range(0, len(response), step):
        conn.data_received(response[i : i + step])
    if close:
        conn.connection_lost(None)
    return rec, await pending


@pytest.mark.parametrize("step", [1, 7, 10_000])
async def test_a_stream_read_in_any_split_counts_its_tokens_and_usage(step):
    # Two events in the second chunk (as one iteration's write can carry), split anywhere.
    body = chunked(ROLE, TOKEN + TOKEN, USAGE + DONE)
    rec, reusable = await exchange(HEAD + body, step)
    assert len(rec.chunk_s) == 2  # the role's empty content is no token
    assert rec.usage == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert rec.error is None and rec.end_s > 0 and reusable


async def test_an_error_event_in_the_stream_is_the_records_error():
    error = b'data: {"error": {"message": "engine error: boom", "type": "InternalServerError"}}\n\n'
    rec, _ = await exchange(HEAD + chunked(TOKEN, error + DONE), 5)
    assert rec.error == "engine error: boom" and len(rec.chunk_s) == 1


async def test_an_error_status_keeps_its_body():
    body = b'{"error":{"message":"too many"}}'
    head = b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: %d\r\n\r\n" % len(body)
    rec, reusable = await exchange(head + body, 3)
    assert rec.error == 'HTTP 429: {"error":{"message":"too many"}}'
    assert not reusable and rec.chunk_s == []


async def test_a_server_that_closes_mid_stream_is_an_error():
    rec, reusable = await exchange(HEAD + b"%x\r\n%b\r\n" % (len(TOKEN), TOKEN), 50, close=True)
    assert rec.error.startswith("ServerDisconnected") and len(rec.chunk_s) == 1
    assert not reusable


async def test_a_connection_close_response_is_not_reused():
    head = HEAD.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n")
    rec, reusable = await exchange(head + chunked(TOKEN + DONE), 1000)
    assert rec.error is None and not reusable


async def test_a_response_that_is_not_http_fails_the_request():
    rec, reusable = await exchange(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", 100)
    assert rec.error.startswith("BadResponse") and not reusable
