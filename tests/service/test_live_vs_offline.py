"""A live run and an offline `simulate` of the same scenario and arrival times agree on
throughput and median TPOT within 5%, and on median TTFT within 8%.

The live run sends each request at its arrival time (divided by the speed) to the server
in this process; its emulated timestamps come from the scheduler service. They can differ
from the offline run only through what is live about it: arrivals stamped by the wall
clock, so a request lands a little before or after an iteration boundary."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from serve_helpers import in_process

from llmemu.cli.files import load_scenario_data
from llmemu.core.replica import build_replica
from llmemu.core.simulate import materialise, run
from llmemu.service.api.app import create_app
from llmemu.service.api.settings import ServeSettings
from llmemu.service.live.emulation import build_emulation

pytestmark = pytest.mark.anyio
SPEED = 3.0
SCENARIO = {
    "model": "llama-3-8b",
    "system": "h100x1",
    "workload": {
        "requests": 240,
        "arrival": {"kind": "poisson", "rate": 24},
        "input_tokens": {"kind": "uniform", "low": 128, "high": 512},
        "output_tokens": {"kind": "uniform", "low": 32, "high": 96},
    },
    "seed": 3,
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Recording:
    """Passes every observation on, and keeps each finished request's emulated times."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.finished: list[tuple[float, float, float, int]] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def on_finish(self, req, seq, reason) -> None:
        self.inner.on_finish(req, seq, reason)
        self.finished.append((req.arrival_s, req.first_token_s, req.last_token_s, req.generated))


def summary(rows) -> dict[str, float]:
    arrival, first, last, out = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    multi = out > 1
    return {
        "output_tokens_per_s": out.sum() / (last.max() - arrival.min()),
        "ttft_p50": float(np.median(first - arrival)),
        "tpot_p50": float(np.median((last - first)[multi] / (out[multi] - 1))),
    }


async def test_live_run_matches_offline_simulation():
    loaded = load_scenario_data(SCENARIO, None, [], "test")
    workload = materialise(loaded.spec.workload, loaded.spec.seed, max_context=loaded.model.max_context)  # fmt: skip
    offline = run(build_replica(loaded.model, loaded.system, loaded.spec.policy), workload)
    expected = summary([(r.arrival_s, r.first_token_s, r.finish_s, r.generated) for r in offline.requests])  # fmt: skip

    settings = ServeSettings(speed=SPEED)
    app = create_app(settings, emulation=build_emulation(loaded, settings))
    recording = app.state.scheduler.observer = Recording(app.state.scheduler.observer)
    words = " the" * 512
    async with in_process(app) as c:
        start = asyncio.get_running_loop().time()

        async def send(i: int) -> None:
            at = start + float(workload.arrivals[i] - workload.arrivals[0]) / SPEED
            await asyncio.sleep(max(0.0, at - asyncio.get_running_loop().time()))
            prompt = words[: 4 * int(workload.inputs[i])]  # " the" is one token
            body = {"prompt": prompt, "max_tokens": int(workload.outputs[i]), "ignore_eos": True}
            r = await c.post("/v1/completions", json=body)
            assert r.json()["usage"]["prompt_tokens"] == workload.inputs[i]

        await asyncio.gather(*(send(i) for i in range(len(workload.inputs))))
    live = summary(recording.finished)
    for key, value in expected.items():
        # Median TTFT moves with where wall-clock arrivals land against iteration
        # boundaries: live / offline measured 0.973, 0.994, 1.002, 1.003 and 1.039 over
        # five runs (speeds 1-3), where throughput and TPOT stayed within 0.6 %.
        tolerance = 0.08 if key == "ttft_p50" else 0.05
        assert live[key] == pytest.approx(value, rel=tolerance), (key, live, expected)
