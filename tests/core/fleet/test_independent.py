"""Round-robin reads no replica's state, so the driver advances each replica only up to the
arrival routed to it: the results must be those of the event loop, which advances every
replica in lock step with the fleet's arrivals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmemu.cli.files import load_scenario_data
from llmemu.cli.fleet import fleet_workload
from llmemu.core.catalog import load_system
from llmemu.core.fleet.build import build_fleet
from llmemu.core.fleet.results import fleet_summary
from llmemu.core.fleet.routers import RoundRobin
from llmemu.core.replica import build_replica
from llmemu.core.simulate import Workload
from llmemu.core.simulate import run as simulate_run

SCENARIO = {
    "model": "llama-3-8b",
    "system": "h100x1",
    "cluster": {"replicas": 3, "router": "round-robin"},
    "workload": {
        "requests": 600,
        "arrival": {"kind": "poisson", "rate": 60.0},
        "input_tokens": {"kind": "normal", "mean": 800, "std": 300},
        "output_tokens": {"kind": "uniform", "low": 20, "high": 400},
    },
}


class _LockStep(RoundRobin):
    reads_replicas = True  # the same picks, but the driver must keep replicas in step


def _run(lock_step: bool):
    loaded = load_scenario_data(SCENARIO, Path("."), [], "test")
    driver = build_fleet(
        loaded.spec.cluster, loaded.model, loaded.system, loaded.spec.policy, load_system
    )
    if lock_step:
        driver.router = _LockStep({})
    run = driver.run(fleet_workload(loaded))
    return run, fleet_summary(run, 0.0)


def test_replicas_advanced_apart_match_the_event_loop():
    apart, apart_summary = _run(False)
    step, step_summary = _run(True)
    # Fewer steps: each replica's decode runs fuse up to its own next arrival (every third
    # of the fleet's), not the fleet's next one.
    assert apart_summary["engine_steps"] < step_summary["engine_steps"]
    assert apart_summary["iterations"] == step_summary["iterations"]
    for column in ("arrival_s", "first_scheduled_s", "first_token_s", "finish_s"):
        a, b = apart.log.column(column), step.log.column(column)
        assert a.tolist() == pytest.approx(b.tolist(), rel=1e-9, abs=1e-12), column
    assert apart.log.column("generated").tolist() == step.log.column("generated").tolist()
    for name, replica in apart_summary["replicas"].items():
        assert replica["requests"] == step_summary["replicas"][name]["requests"] == 200


def test_each_replica_reports_the_requests_round_robin_sent_it():
    run, summary = _run(False)
    log = run.log
    ttft = log.column("first_token_s") - log.column("arrival_s")
    generated = log.column("generated")
    for k in range(3):
        # Round-robin over 3 replicas: request i went to replica i % 3.
        mine = slice(k, None, 3)
        replica = summary["replicas"][f"replica-{k}"]
        assert replica["requests"] == 200
        assert replica["ttft_s"]["mean"] == pytest.approx(ttft[mine].mean(), rel=1e-12)
        assert replica["ttft_s"]["p90"] == pytest.approx(np.percentile(ttft[mine], 90))
        assert replica["throughput"] * run.simulated_s == pytest.approx(generated[mine].sum())


def test_each_replica_runs_as_a_single_engine_on_its_share():
    """Replica k of 3 under round-robin serves requests k, k + 3, ...: alone, on exactly those
    arrivals, one engine (simulate.run) gives the same times, though the fleet's replicas
    share their price caches."""
    run, _ = _run(False)
    loaded = load_scenario_data(SCENARIO, Path("."), [], "test")
    w = fleet_workload(loaded)
    for k in range(3):
        share = Workload(w.inputs[k::3], w.outputs[k::3], w.arrivals[k::3])
        alone = simulate_run(build_replica(loaded.model, loaded.system, loaded.spec.policy), share)
        for column in ("first_scheduled_s", "first_token_s", "finish_s"):
            fleet = run.log.column(column)[k::3]
            assert fleet.tolist() == pytest.approx(alone.log.column(column).tolist(), rel=1e-9)
