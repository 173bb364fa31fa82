"""EagerWriter: a send that does not wait has written when `write` returns; one that waits
(back-pressure) is finished by a task and later chunks follow it in order."""

from __future__ import annotations

import asyncio

import pytest
from tests.service.asgi_peer import Peer

from llmemu.service.api.eager import EagerWriter

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_a_send_that_does_not_wait_is_done_when_write_returns():
    peer = Peer()
    writer = EagerWriter(peer.send)
    writer.write(b"a")
    writer.write(b"b", more=False)
    assert peer.bodies == [(b"a", True), (b"b", False)]  # no await in between
    await writer.drain()


async def test_chunks_written_behind_a_waiting_send_keep_their_order():
    peer = Peer()
    writer = EagerWriter(peer.send)
    writer.write(b"1")
    peer.paused = asyncio.Event()
    writer.write(b"2")  # waits: the client is not reading
    writer.write(b"3", more=False)  # queued behind it
    await asyncio.sleep(0)
    assert peer.bodies == [(b"1", True)]
    peer.paused.set()
    peer.paused = None
    await writer.drain()
    assert peer.bodies == [(b"1", True), (b"2", True), (b"3", False)]
    writer.write(b"4")  # nothing waits any more: written at once again
    assert peer.bodies[-1] == (b"4", True)


async def test_an_error_of_the_send_reaches_the_writer():
    async def gone(message: dict) -> None:
        raise OSError("client disconnected")

    with pytest.raises(OSError, match="client disconnected"):
        EagerWriter(gone).write(b"x")
