"""No request is lost under overload and disconnects: every accepted request ends with its
tokens or an explicit error, each is counted once in vllm:request_success_total, and a
client that leaves (mid-stream, or waiting for a whole answer) has its request aborted and
its KV blocks freed. Over a real port, so that disconnects are real TCP closes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import aiohttp
import pytest
from serve_helpers import make_app, sample, served

pytestmark = pytest.mark.anyio

MAX_TOKENS = 30


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def _one(c: aiohttp.ClientSession, url: str, i: int, in_flight: Callable[[str], bool]) -> str:  # fmt: skip
    streaming = i % 5 != 4
    leaver = i % 4 == 1 if streaming else i % 3 == 0
    # A leaver asks for 8000 tokens: about 52 s of emulated decode, 10 s of wall time at
    # speed 5, so it is still running when it leaves unless this client is held up for
    # seconds after its first token (see the test's last assertions).
    limit = 8000 if leaver else MAX_TOKENS
    body = {"prompt": " the model" * 20, "max_tokens": limit, "ignore_eos": True}
    if not streaming:
        # A non-streaming leaver gives up after 50 ms, long before its tokens are done.
        timeout = aiohttp.ClientTimeout(total=0.05 if leaver else None)
        try:
            async with c.post(url, json=body, timeout=timeout) as r:
                if r.status != 200:
                    return f"http {r.status}"
                assert (await r.json())["usage"]["completion_tokens"] == MAX_TOKENS
                return "done"
        except TimeoutError:
            return "left"
    body |= {"stream": True, "stream_options": {"include_usage": True}}
    async with c.post(url, json=body) as r:
        if r.status != 200:
            return f"http {r.status}"
        usage = None
        async for raw in r.content:
            line = raw.decode().strip()
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                assert usage is not None and usage["completion_tokens"] == MAX_TOKENS
                return "done"
            chunk = json.loads(line[6:])
            assert "error" not in chunk
            if leaver and chunk["choices"]:
                running = in_flight(chunk["id"])
                r.close()  # leave after the first token: closes the connection
                return "left running" if running else "left"
            usage = chunk.get("usage") or usage
    return "cut"  # the stream ended without [DONE]: that is a lost request


async def test_overload_and_disconnects_lose_nothing():
    app = make_app(speed=5, max_waiting=6, overrides=["policy.max_num_seqs=4"])
    scheduler = app.state.scheduler

    def in_flight(rid: str) -> bool:
        """Whether request `rid` still has a sequence the engine has not finished."""
        return any(s.msg.reply_to == rid for s in list(scheduler._seqs.values()))

    transport = app.state.gateway.transport
    submitted: list = []
    submit = transport.submit
    transport.submit = lambda seqs: (submitted.extend(seqs), submit(seqs))
    with served(app) as url:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as c:
            endpoint = url + "/v1/completions"
            outcomes = await asyncio.gather(*(_one(c, endpoint, i, in_flight) for i in range(48)))  # fmt: skip
            # Generous: a leaver whose departure went unnoticed would take 10 s to end, and
            # the assertions below name that fault better than a timeout does.
            deadline = time.monotonic() + 30
            while scheduler.engine.has_work() or scheduler._seqs:
                assert time.monotonic() < deadline, "the engine did not drain"
                await asyncio.sleep(0.02)
            async with c.get(url + "/metrics") as r:
                metrics = await r.text()
    counts = {k: outcomes.count(k) for k in set(outcomes)}
    assert set(counts) <= {"done", "left", "left running", "http 429"}, counts
    assert counts.get("http 429", 0) > 0, counts
    by_reason = {r: sample(metrics, "vllm:request_success_total", finished_reason=r) for r in ("stop", "length", "abort", "error")}  # fmt: skip
    # Every submitted request ended exactly once, with its tokens or aborted. A leaver whose
    # client read its first token only after the engine had produced its last (a client held
    # up for seconds) left nothing to abort: counted as length, not lost.
    assert by_reason["length"] + by_reason["abort"] == len(submitted)
    assert by_reason["length"] >= counts["done"]
    # A streaming leaver whose request was still running when it closed the connection has
    # 8000 - 1 tokens (10 s) to go: the server must notice and abort it. Non-streaming
    # leavers add aborts of their own when the server had read them before they gave up.
    running_leavers = counts.get("left running", 0)
    assert running_leavers >= 1, counts
    assert by_reason["abort"] >= running_leavers, (by_reason, counts)
    assert by_reason["error"] == by_reason["stop"] == 0
    kv = scheduler.engine.kv
    assert kv.free_blocks == kv.num_blocks  # every aborted request gave its blocks back
    assert sample(metrics, "vllm:num_requests_running") == 0
    assert sample(metrics, "vllm:num_requests_waiting") == 0
