"""Staged emission: the engine loop stages an iteration's tokens before the iteration ends
(a stream formats its chunk then) and releases them when it ends (the stream writes then),
so the burst of writes at the iteration's end carries no formatting."""

from __future__ import annotations

import asyncio

import pytest
from tests.service.asgi_peer import Peer

from llmemu.protocol.internal import TokenEvent
from llmemu.service.api.eager import EagerWriter
from llmemu.service.api.gateway import Gateway
from llmemu.service.api.jobs import Choice, Job
from llmemu.service.api.streaming import StreamSink
from llmemu.service.live.transport import EventQueue, InMemoryTransport
from llmemu.service.text.lengths import Draw

pytestmark = pytest.mark.anyio
HEAD = 'data: {"id":"cmpl-1","object":"text_completion","created":0,"model":"m","choices":[{"index":0,'  # fmt: skip


@pytest.fixture
def anyio_backend():
    return "asyncio"


def gateway(lags: list[float]) -> Gateway:
    return Gateway(
        model_names=["m"], transport=InMemoryTransport(), word_text=str,
        lag_s=lambda t: 2.0 - t, on_lag=lags.append, on_rejected=lambda: None,
        max_waiting=None, retry_after_s=1, ensure_started=lambda: None,
    )  # fmt: skip


async def streaming_sink(lags: list[float]) -> tuple[StreamSink, Peer, Choice]:
    """A started stream of one completion choice of two tokens, " one" and " two"."""
    choice = Choice(0, "s-0", 3, Draw(2, "length", [7, 8], pieces=(" one", " two")))
    job = Job("cmpl-1", chat=False, created=0, choices=[choice])
    gw = gateway(lags)
    sink = gw._sink(job, _Body(), "m")  # type: ignore[arg-type]
    peer = Peer()
    asyncio.ensure_future(sink.run(EagerWriter(peer.send)))
    await asyncio.sleep(0)
    return sink, peer, choice


class _Body:
    stream_options = None


async def test_a_stream_formats_when_staged_and_writes_when_released():
    lags: list[float] = []
    sink, peer, choice = await streaming_sink(lags)
    release = sink.prepare([TokenEvent("s-0", 1, 0.5)])
    assert peer.bodies == [] and choice.generated == 1  # formatted, nothing written
    release()
    first = HEAD + '"text":" one","logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n'
    assert peer.bodies == [(first.encode(), True)]
    assert lags == [1.5]  # lag_s(0.5) = 2.0 - 0.5, taken as it was written
    sink.prepare([TokenEvent("s-0", 2, 0.6, "length")])()
    last = HEAD + '"text":" two","logprobs":null,"finish_reason":"length","stop_reason":null}]}\n\ndata: [DONE]\n\n'  # fmt: skip
    assert peer.bodies[-1] == (last.encode(), True)  # the last tokens leave with their iteration
    assert lags == [1.5, 1.4]
    await asyncio.sleep(0)  # the response ends in its own task's turn, after the burst
    assert peer.bodies[-1] == (b"", False) and len(peer.bodies) == 3


async def test_a_stream_that_ends_between_stage_and_release_writes_nothing_more():
    sink, peer, _ = await streaming_sink([])
    release = sink.prepare([TokenEvent("s-0", 1, 0.5)])
    sink.put_nowait(None)  # the client left while the iteration ran
    assert peer.bodies == [(b"", False)]
    release()
    assert peer.bodies == [(b"", False)]


class Recorder:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def put_nowait(self, events) -> None:
        self.log.append(f"put {self.name}")

    def prepare(self, events):
        self.log.append(f"prepare {self.name}")
        return lambda: self.log.append(f"release {self.name}")


async def test_the_transport_prepares_every_subscriber_then_releases_them_in_order():
    transport, log = InMemoryTransport(), []
    transport.subscribe("a", Recorder("a", log))
    transport.subscribe("b", Recorder("b", log))
    queue = transport.subscribe("c")
    assert isinstance(queue, EventQueue)
    events = [TokenEvent("c-0", 1, 0.5)]
    release = transport.stage({"a": [], "gone": [], "b": [], "c": events})
    assert log == ["prepare a", "prepare b"] and queue.empty()
    release()
    assert log == ["prepare a", "prepare b", "release a", "release b"]
    assert queue.get_nowait() is events


async def test_a_chat_stream_sends_its_role_chunk_with_its_first_token():
    """vLLM writes the role chunk when the request's first output comes, with its first token;
    `vllm bench serve` stamps TTFT at the first chunk that has choices, the role chunk."""
    choice = Choice(0, "c-0", 3, Draw(2, "length", [7, 8], pieces=(" one", " two")))
    job = Job("chatcmpl-1", chat=True, created=0, choices=[choice])
    sink = gateway([])._sink(job, _Body(), "m")  # type: ignore[arg-type]
    peer = Peer()
    asyncio.ensure_future(sink.run(EagerWriter(peer.send)))
    await asyncio.sleep(0)
    assert peer.bodies == []  # the response has started, and nothing is written before a token
    sink.prepare([TokenEvent("c-0", 1, 0.5)])()
    head = 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,'  # fmt: skip
    role = head + '"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'  # fmt: skip
    first = head + '"delta":{"content":" one"},"logprobs":null,"finish_reason":null}]}\n\n'
    assert peer.bodies == [((role + first).encode(), True)]
    sink.prepare([TokenEvent("c-0", 2, 0.6, "length")])()  # the role chunk comes once
    assert peer.bodies[-1][0].startswith((head + '"delta":{"content":" two"}').encode())


async def test_a_stream_ends_its_response_on_a_turn_clear_of_a_burst():
    from tests.service.test_one_per_turn import Bursts

    from llmemu.service.live.pacing import OnePerTurn

    bursts = Bursts(room_s=0.001)  # the next burst is due sooner than an end takes
    gw = gateway([])
    gw.turns = OnePerTurn(bursts, reserve_s=0.002)
    choice = Choice(0, "s-0", 3, Draw(1, "length", [7], pieces=(" one",)))
    sink = gw._sink(Job("cmpl-1", chat=False, created=0, choices=[choice]), _Body(), "m")  # type: ignore[arg-type]
    peer = Peer()
    asyncio.ensure_future(sink.run(EagerWriter(peer.send)))
    await asyncio.sleep(0)
    sink.prepare([TokenEvent("s-0", 1, 0.5, "length")])()
    for _ in range(3):
        await asyncio.sleep(0)
    assert peer.bodies[-1][0].endswith(b"data: [DONE]\n\n")  # the tokens left with their burst
    assert len(peer.bodies) == 1  # the response has not ended: the burst is near
    bursts.out(next_room_s=0.010)
    for _ in range(3):
        await asyncio.sleep(0)
    assert peer.bodies[-1] == (b"", False)  # ended on the turn after the burst
