"""N replicas under round-robin at N times one replica's rate behave like N copies of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.core.fleet.helpers import run_fleet

from llmemu.cli.files import load_scenario_data
from llmemu.core.replica import build_replica
from llmemu.core.results import summarize
from llmemu.core.simulate import run

RATE = 4.0  # requests/s per replica: about a third of one H100's capacity for these lengths
SCENARIO = {
    "model": "llama-3-8b",
    "system": "h100x1",
    "workload": {
        "requests": 1200,
        "arrival": {"kind": "poisson", "rate": RATE},
        "input_tokens": {"kind": "normal", "mean": 512, "std": 128},
        "output_tokens": {"kind": "constant", "value": 128},
    },
}


def _single(data: dict) -> dict:
    loaded = load_scenario_data(data, Path("."), [], "test")
    replica = build_replica(loaded.model, loaded.system, loaded.spec.policy)
    return summarize(run(replica, loaded.workload()), 0.0)


def _with(requests: int, rate: float, cluster: dict | None = None) -> dict:
    wl = {
        **SCENARIO["workload"],
        "requests": requests,
        "arrival": {"kind": "poisson", "rate": rate},
    }
    data = {**SCENARIO, "workload": wl}
    return data if cluster is None else {**data, "cluster": cluster}


def test_fleet_of_one_is_the_single_replica_run():
    data = _with(200, RATE)
    single, fleet = _single(data), run_fleet(data)
    for key in ("ttft_s", "tpot_s", "itl_s", "e2e_s", "throughput"):
        assert fleet[key] == single[key], key
    assert fleet["iterations"] == single["iterations"]


def test_four_replicas_at_four_times_the_rate():
    single = _single(_with(300, RATE))
    fleet = run_fleet(_with(1200, 4 * RATE, {"replicas": 4, "router": "round-robin"}))
    # 4x the offered load over about the same span: 4x the output tokens per second.
    ratio = fleet["throughput"]["output_tokens_per_s"] / single["throughput"]["output_tokens_per_s"]
    assert ratio == pytest.approx(4.0, rel=0.02)
    print(f"throughput ratio {ratio:.4f}")
    for key, quantiles in (("ttft_s", ("p50", "p90")), ("tpot_s", ("p50", "p90", "p99"))):
        for q in quantiles:
            assert fleet[key][q] == pytest.approx(single[key][q], rel=0.05), (key, q)
    # Round-robin hands each replica every 4th arrival of a Poisson stream: Erlang-4 gaps,
    # more regular than Poisson, so two prompts collide less and the TTFT tail is shorter.
    assert fleet["ttft_s"]["p99"] <= single["ttft_s"]["p99"]
    assert fleet["router"]["decisions"] == {f"replica-{i}": 300 for i in range(4)}
    assert sum(r["requests"] for r in fleet["replicas"].values()) == 1200
