"""Prefix caching end to end: off reproduces the committed result of the engine before it
existed; on, a shared system prompt is not computed again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.core.fleet.helpers import run_fleet

from llmemu.cli.files import load_scenario_data
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.results import summarize
from llmemu.core.simulate import run

DATA = Path(__file__).resolve().parents[1] / "data"


def _summary(data: dict) -> dict:
    loaded = load_scenario_data(data, Path("."), [], "test")
    replica = build_replica(loaded.model, loaded.system, loaded.spec.policy, seed=loaded.spec.seed)
    return summarize(run(replica, loaded.workload()), 0.0)


@pytest.mark.parametrize("path", ["single", "fleet of one"])
def test_caching_off_gives_exactly_the_committed_result(path):
    data = yaml.safe_load((DATA / "prefix_off_baseline.yaml").read_text())
    expected = json.loads((DATA / "prefix_off_baseline.json").read_text())
    if path == "single":
        got = _summary(data)
    else:
        # A fleet of one replica with generated prefixes but caching off: same numbers.
        data["workload"]["prefix_groups"] = {"groups": 1, "tokens": 16, "fraction": 0.0}
        got = run_fleet(data)
    for key, value in expected.items():
        if key != "devices":
            assert _same(got[key], value), key
    for name, device in expected["devices"].items():
        for key, value in device.items():
            assert _same(got["devices"][name][key], value), (name, key)


def _same(got, expected) -> bool:
    """Equal, floats to 1e-12 relative: the same iterations summed in another order may
    differ in the last digit, which is not a different result."""
    if isinstance(expected, dict):
        return got.keys() >= expected.keys() and all(_same(got[k], v) for k, v in expected.items())
    if isinstance(expected, float):
        return got == pytest.approx(expected, rel=1e-12, abs=1e-300)
    return got == expected


def test_a_cached_system_prompt_saves_its_prefill_time():
    system_prompt, own = 2048, 64
    data = {
        "model": "llama-3-8b",
        "system": "h100x1",
        "workload": {
            # One at a time (5 s apart on average, each done in well under 0.1 s): a
            # request's TTFT is the one iteration that computes its prompt.
            "requests": 40,
            "arrival": {"kind": "poisson", "rate": 0.2},
            "input_tokens": {"kind": "constant", "value": own},
            "output_tokens": {"kind": "constant", "value": 2},
            "prefix_groups": {"groups": 1, "tokens": system_prompt, "fraction": 1.0},
        },
    }
    off = run_fleet(data)
    on = run_fleet({**data, "policy": {"prefix_caching": True}})
    # Every request after the first hits the 2048 / 16 = 128 system-prompt blocks.
    assert on["prefix_cache"]["hit_tokens"] == 39 * system_prompt
    assert on["prefix_cache"]["query_tokens"] == 40 * (system_prompt + own)
    # The saving: an iteration of 2112 prompt tokens against one of 64 tokens that
    # attend to 2048 cached ones, priced directly on the replica's planner.
    loaded = load_scenario_data(data, Path("."), [], "test")
    pricer = build_replica(loaded.model, loaded.system, loaded.spec.policy).engine.pricer
    full = pricer.price(pricer.with_routing(BatchShape(((2112, 0),), 0, 0, 1))).duration_s
    rest = pricer.price(pricer.with_routing(BatchShape(((64, 2048),), 0, 0, 1))).duration_s
    saved = off["ttft_s"]["p50"] - on["ttft_s"]["p50"]
    assert saved == pytest.approx(full - rest, rel=0.02)
