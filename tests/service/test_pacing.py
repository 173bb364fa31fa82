"""Real-time pacing: a lone request's emulated timings are exactly the offline engine's, and
its tokens arrive no earlier than the emulated schedule divided by the speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from serve_helpers import MODEL, SYSTEM, in_process, make_app, sample, sse_events

from llmemu.cli.files import load_scenario_data
from llmemu.core.replica import build_replica
from llmemu.core.simulate import Workload, run

pytestmark = pytest.mark.anyio
SPEED = 10.0
PROMPT, OUTPUT = 300, 40


@pytest.fixture
def anyio_backend():
    return "asyncio"


def offline_single_request() -> tuple[float, float]:
    """TTFT and end-to-end time of one request on an idle replica, in virtual time."""
    loaded = load_scenario_data({"model": MODEL, "system": SYSTEM}, None, [], "test")
    one = Workload(np.array([PROMPT]), np.array([OUTPUT]), np.array([0.0]))
    req = run(build_replica(loaded.model, loaded.system, loaded.spec.policy), one).requests[0]
    return req.first_token_s - req.arrival_s, req.finish_s - req.arrival_s


async def test_a_lone_request_is_paced_exactly_as_offline():
    ttft_s, e2e_s = offline_single_request()
    app = make_app(speed=SPEED)
    body = {"prompt": " the" * PROMPT, "max_tokens": OUTPUT, "ignore_eos": True, "stream": True}
    async with in_process(app) as c:
        started = time.perf_counter()
        r = await c.post("/v1/completions", json=body)
        wall_s = time.perf_counter() - started
        metrics = (await c.get("/metrics")).text
    assert sum(1 for e in sse_events(r.text) if e != "[DONE]" and e["choices"]) == OUTPUT
    # An idle engine starts at the arrival: the same iterations as offline, to the float.
    assert sample(metrics, "vllm:time_to_first_token_seconds_sum") == pytest.approx(ttft_s, rel=1e-9)  # fmt: skip
    assert sample(metrics, "vllm:e2e_request_latency_seconds_sum") == pytest.approx(e2e_s, rel=1e-9)  # fmt: skip
    # Paced: the last token cannot leave before e2e / speed of wall time has passed.
    assert wall_s >= e2e_s / SPEED
    assert sample(metrics, "llmemu_iteration_seconds_count") == OUTPUT  # one step per token
