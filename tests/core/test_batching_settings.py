"""Settings only one batching policy reads are refused under the others, by name, with the
fix; at their defaults they are accepted everywhere."""

from __future__ import annotations

import pytest

from llmemu.core.batching import SETTINGS, check_settings, switch_batching
from llmemu.core.catalog import load_system
from llmemu.core.errors import ConfigError
from llmemu.core.nanoflow.tune import tune
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model

IGNORED = [
    ("continuous", {"memory_window": 2}, "memory_window=2", "edge"),
    ("nanoflow", {"memory_window": 1}, "memory_window=1", "edge"),
    ("sub-batch-interleave", {"memory_window": 2}, "memory_window=2", "edge"),
    ("continuous", {"sub_batches": 2}, "sub_batches=2", "sub-batch-interleave"),
    ("edge", {"sub_batches": 2}, "sub_batches=2", "sub-batch-interleave"),
    ("sequential", {"sub_batches": 2}, "sub_batches=2", "sub-batch-interleave"),
    ("continuous", {"options": {"cold_start": True}}, "options.cold_start=True", "edge"),
    ("nanoflow", {"options": {"runtime_bytes": 1e9}}, "options.runtime_bytes=1000000000.0", "edge"),
    ("sequential", {"options": {"overlap": False}}, "options.overlap=False", "nanoflow"),
    ("edge", {"options": {"nano_batches": [256, 256]}}, "options.nano_batches=[256, 256]", "nanoflow"),
    ("continuous", {"options": {"order": "depth"}}, "options.order='depth'", "nanoflow"),
]  # fmt: skip


@pytest.mark.parametrize(("batching", "settings", "given", "reader"), IGNORED)
def test_a_setting_the_batching_policy_ignores_is_refused_with_the_fix(
    batching, settings, given, reader
):
    policy = PolicySpec(batching=batching, max_num_batched_tokens=512, **settings)
    path = given.partition("=")[0]
    with pytest.raises(ConfigError) as exc:
        build_replica(load_model("llama-2-7b"), load_system("h100x1"), policy)
    assert str(exc.value) == (
        f"policy.{given} has no effect with batching {batching!r} (only {reader} reads it); "
        f"set policy.batching to {reader}, or {FIXES[path]}"
    )


FIXES = {  # a fix an override (--set, --grid) can apply too
    "memory_window": "set policy.memory_window to 0 or remove it",
    "sub_batches": "set policy.sub_batches to 1 or remove it",
    "options.cold_start": "set policy.options.cold_start to False or remove it",
    "options.runtime_bytes": "set policy.options.runtime_bytes to 500000000.0 or remove it",
    "options.overlap": "set policy.options.overlap to True or remove it",
    "options.nano_batches": "remove policy.options.nano_batches",
    "options.order": "set policy.options.order to 'breadth' or remove it",
}


def test_every_setting_the_policy_ignores_is_named_at_once():
    policy = PolicySpec(
        batching="sequential", memory_window=2, options={"nano_batches": [256], "order": "depth"}
    )
    with pytest.raises(ConfigError) as exc:
        check_settings(policy)
    assert str(exc.value) == (
        "policy.memory_window=2 has no effect with batching 'sequential' (only edge reads it); "
        "set policy.batching to edge, or set policy.memory_window to 0 or remove it; so does "
        "policy.options.nano_batches=[256]; so does policy.options.order='depth'"
    )


DEFAULTS = [
    {"memory_window": 0},
    {"sub_batches": 1},
    {"options": {"cold_start": False, "runtime_bytes": 500_000_000}},
    {"options": {"checkpoint_dtype_bytes": 2}},
    {"options": {"order": "breadth", "overlap": True, "splits": {}, "shares": None}},
]


@pytest.mark.parametrize("batching", ["continuous", "sequential", "nanoflow", "edge"])
@pytest.mark.parametrize("settings", DEFAULTS)
def test_a_setting_at_its_default_is_accepted_by_every_policy(batching, settings):
    check_settings(PolicySpec(batching=batching, **settings))


def test_each_policy_accepts_its_own_settings():
    check_settings(PolicySpec(batching="edge", memory_window=2, options={"cold_start": True}))
    check_settings(PolicySpec(batching="sub-batch-interleave", sub_batches=2))
    check_settings(
        PolicySpec(batching="nanoflow", options={"nano_batches": [4096, 4096], "overlap": False})
    )
    assert set(SETTINGS) == {"edge", "sub-batch-interleave", "nanoflow"}


def test_a_flag_given_as_a_number_is_not_its_default():
    # 0 == False in Python; `cold_start: 0` is not the default flag, and edge would refuse it.
    with pytest.raises(ConfigError, match="policy.options.cold_start=0 has no effect"):
        check_settings(PolicySpec(options={"cold_start": 0}))


def test_an_unknown_batching_is_named_before_its_settings():
    with pytest.raises(ConfigError, match="unknown policy.batching 'magic'"):
        check_settings(PolicySpec(batching="magic", memory_window=2))


def test_tune_reads_the_nanoflow_options_and_searches_without_them():
    model, system = load_model("llama-3-8b"), load_system("h100x1")
    policy = PolicySpec(
        batching="nanoflow", max_num_batched_tokens=2048, options={"overlap": False}
    )
    tuned = tune(model, system, policy, 512, 16, max_evaluations=1)
    pipeline = build_replica(model, system, policy).engine.pricer
    expected = sum(w * pipeline.price(b).duration_s for b, w in tuned.mix)
    assert tuned.default_s == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ConfigError, match="policy.memory_window=2 has no effect"):
        tune(model, system, policy.model_copy(update={"memory_window": 2}), 512, 16)


def test_an_options_key_no_policy_reads_is_refused_with_the_nearest_name():
    policy = PolicySpec(batching="edge", options={"cold_strat": True})
    with pytest.raises(ConfigError) as exc:
        check_settings(policy)
    assert str(exc.value) == (
        "policy.options.cold_strat is not a setting of any batching policy; did you mean "
        "'cold_start'? the known ones are checkpoint_dtype_bytes, cold_start, nano_batches, "
        "order, overlap, runtime_bytes, shares, splits"
    )


def test_tune_searches_an_edge_scenario_with_its_window_left_to_edge():
    # tune times nanoflow pipelines against the sequential engine: the window the scenario
    # gives its own (edge) batching is not carried to them.
    policy = PolicySpec(batching="edge", memory_window=2, max_num_batched_tokens=64)
    tuned = tune(load_model("llama-2-7b"), load_system("h100x1"), policy, 32, 8, max_evaluations=3)
    assert tuned.sequential_s > 0


def test_switching_batching_drops_what_only_other_policies_read():
    policy = PolicySpec(
        batching="nanoflow", memory_window=2, sub_batches=2, options={"order": "depth", "cold_start": True}
    )  # fmt: skip
    assert switch_batching(policy, "edge").model_dump(include={"batching", "memory_window", "sub_batches", "options"}) == {
        "batching": "edge", "memory_window": 2, "sub_batches": 1, "options": {"cold_start": True}
    }  # fmt: skip
