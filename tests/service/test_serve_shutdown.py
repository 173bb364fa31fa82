"""A server that stops mid-answer ends every accepted request with an explicit error (in
the stream: an error event, then [DONE]; otherwise a 500 in the envelope), counted once
as `error`."""

from __future__ import annotations

import asyncio

import pytest
from serve_helpers import in_process, make_app, sample, sse_events

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_stopping_mid_answer_ends_requests_with_an_error():
    app = make_app(speed=1)  # 2000 tokens take ~13 s: both requests are surely unfinished
    body = {"prompt": " the", "max_tokens": 2000, "ignore_eos": True}
    async with in_process(app) as c:
        streamed = asyncio.ensure_future(c.post("/v1/completions", json=body | {"stream": True}))  # fmt: skip
        whole = asyncio.ensure_future(c.post("/v1/completions", json=body))
        await asyncio.sleep(0.2)
        await app.state.scheduler.stop()
        stream_r, whole_r = await streamed, await whole
        metrics = (await c.get("/metrics")).text
    events = sse_events(stream_r.text)
    assert events[-1] == "[DONE]"
    assert events[-2]["error"]["message"] == "the server is shutting down"
    assert events[-2]["error"]["code"] == 500
    assert whole_r.status_code == 500
    assert whole_r.json()["error"]["message"] == "the server is shutting down"
    assert sample(metrics, "vllm:request_success_total", finished_reason="error") == 2
