"""A round-robin fleet run replica by replica in the compiled loop (core/fleet/compiled.py)
against the driver's own Python path (`compiled_loop=False`): the whole fleet summary (every
replica's numbers, its utilisation and load timelines, the fleet's percentiles), the log of
every request and the rejections must agree, floats to 1e-12 relative."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmemu.cli.files import load_scenario_data
from llmemu.cli.fleet import fleet_workload
from llmemu.core import fastcore
from llmemu.core.catalog import load_system
from llmemu.core.fleet import compiled
from llmemu.core.fleet.build import build_fleet
from llmemu.core.fleet.results import fleet_summary
from llmemu.core.request_log import COUNTS, FIELDS

SCENARIO = {
    "model": "llama-3-8b",
    "system": "h100x1",
    "cluster": {"replicas": 3, "router": "round-robin"},
    "workload": {
        "requests": 500,
        "arrival": {"kind": "poisson", "rate": 90.0},
        "input_tokens": {"kind": "normal", "mean": 900, "std": 700},
        "output_tokens": {"kind": "uniform", "low": 1, "high": 400},
    },
}


POOLS = {  # mixed pools of two kinds of hardware and policy, one router over both
    "router": "round-robin",
    "pools": [
        {"name": "h100", "replicas": 2},
        {"name": "a100", "system": "a100x2", "replicas": 1, "policy": {"engine": "vllm"}},
    ],
}


def _run(compiled_loop: bool, memory: float | None = None, pools: bool = False):
    data = dict(SCENARIO)
    if pools:
        data["cluster"] = POOLS
    if memory is not None:  # a small KV cache: preemption, and prompts refused at arrival
        data["system"] = load_system("h100x1").model_copy(update={"memory_utilization": memory})
        data["system"] = data["system"].model_dump(mode="json")
        lengths = {"input_tokens": {"kind": "uniform", "low": 1, "high": 8000}}
        data["workload"] = {**data["workload"], **lengths}
    loaded = load_scenario_data(data, Path("."), [], "test")
    driver = build_fleet(
        loaded.spec.cluster, loaded.model, loaded.system, loaded.spec.policy, load_system
    )
    workload = fleet_workload(loaded)
    assert compiled.usable(driver, workload)
    run = driver.run(workload, compiled_loop=compiled_loop)
    return run, fleet_summary(run, 0.0)


def _same(got, want, path=""):
    if isinstance(want, dict):
        assert got.keys() == want.keys(), path
        for k in want:
            _same(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-300), path
    else:
        assert got == want, path


@pytest.mark.parametrize(("memory", "pools"), [(None, False), (0.225, False), (None, True)])
def test_a_compiled_fleet_gives_the_drivers_numbers(memory, pools):
    assert fastcore._fastcore is not None, "llmemu.core._fastcore is not built"
    want, want_summary = _run(False, memory, pools)
    got, got_summary = _run(True, memory, pools)
    _same(got_summary, want_summary)
    for name in (*FIELDS, *COUNTS):
        assert np.array_equal(got.log.column(name), want.log.column(name)), name
    for which in ("prefilled_by", "served_by"):
        assert np.array_equal(got.log.replicas(which), want.log.replicas(which)), which
    assert got.rejected == want.rejected
    assert got.simulated_s == want.simulated_s
    if memory is not None:
        assert got_summary["requests"]["preempted"] > 0 and got.rejected
