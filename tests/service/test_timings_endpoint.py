"""/llmemu/timings: exact emulated timings since a cursor, agreeing with /metrics."""

from __future__ import annotations

import pytest
from serve_helpers import in_process, make_app, sample
from test_pacing import OUTPUT, PROMPT, offline_single_request

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_lone_requests_have_the_offline_timings_exactly():
    ttft_s, e2e_s = offline_single_request()
    body = {"prompt": " the" * PROMPT, "max_tokens": OUTPUT, "ignore_eos": True}
    async with in_process(make_app(speed=10.0)) as c:
        await c.post("/v1/completions", json=body)  # before the cursor: not counted
        cursor = (await c.get("/llmemu/timings")).json()["cursor"]
        assert cursor == {"requests": 1, "tokens": OUTPUT - 1, "iterations": OUTPUT}
        for _ in range(3):  # one after the other: each alone on an idle engine
            await c.post("/v1/completions", json=body)
        got = (await c.get("/llmemu/timings", params=cursor)).json()
        metrics = (await c.get("/metrics")).text
    assert got["requests"] == 3
    for q in ("mean", "p50", "p99"):
        assert got["ttft_s"][q] == pytest.approx(ttft_s, rel=1e-9)
        assert got["e2e_s"][q] == pytest.approx(e2e_s, rel=1e-9)
    # TPOT: the time after the first token spread over the 39 later ones
    assert got["tpot_s"]["p50"] == pytest.approx((e2e_s - ttft_s) / (OUTPUT - 1), rel=1e-9)
    assert got["cursor"]["tokens"] - cursor["tokens"] == 3 * (OUTPUT - 1)
    # the histograms saw the same four requests: their exact mean agrees
    count = sample(metrics, "vllm:e2e_request_latency_seconds_count")
    assert sample(metrics, "vllm:e2e_request_latency_seconds_sum") / count == pytest.approx(e2e_s)
    assert got["pacing_lag_s"]["iterations"] == 3 * OUTPUT  # one step per token
    assert got["pacing_lag_monitor"]["bound_s"] == 0.005


async def test_a_cursor_must_be_a_count():
    async with in_process(make_app()) as c:
        r = await c.get("/llmemu/timings", params={"requests": -1})
    assert r.status_code == 400, r.text
    assert "requests" in r.text
