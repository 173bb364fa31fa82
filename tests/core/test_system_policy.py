"""System presets carry their paper's policy, applied under whatever the scenario says, and
`simulate` says which policy it ran."""

from __future__ import annotations

import pytest
import yaml

WORKLOAD = {
    "requests": 16,
    "arrival": {"kind": "burst"},
    "input_tokens": {"kind": "constant", "value": 128},
    "output_tokens": {"kind": "constant", "value": 8},
}
NEUPIMS = {"routing": "pim-attention", "batching": "sub-batch-interleave", "sub_batches": 2}


def _scenario(tmp_path, system: str, model: str = "gpt3-7b", **policy) -> str:
    data = {"model": model, "system": system, "workload": WORKLOAD}
    if policy:
        data["policy"] = policy
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_neupims_without_a_policy_runs_neupims_policy_and_says_so(tmp_path, cli, cli_json):
    bare = cli_json("simulate", _scenario(tmp_path, "neupims-4"))
    assert {k: bare["policy"][k] for k in NEUPIMS} == NEUPIMS
    assert sorted(bare["policy"]["from_system"]) == ["batching", "routing", "sub_batches"]
    explicit = cli_json("simulate", _scenario(tmp_path, "neupims-4", **NEUPIMS))
    assert explicit["policy"]["from_system"] == []
    assert bare["throughput"] == explicit["throughput"]  # the same run as writing it out
    code, out, _ = cli("simulate", _scenario(tmp_path, "neupims-4"))
    assert code == 0
    assert "routing pim-attention" in out and "from the neupims-4 preset" in out


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("npu+pim-4", {"routing": "pim-attention", "batching": "continuous"}),
        ("duplex-4", {"routing": "opb-coprocess+et"}),
        ("h100x1", {"routing": "xpu-only", "batching": "continuous"}),  # GPUs carry none
    ],
)
def test_each_system_preset_brings_its_own(tmp_path, cli_json, system, expected):
    model = "mixtral-8x7b" if system.startswith("duplex") else "gpt3-7b"
    policy = cli_json("simulate", _scenario(tmp_path, system, model))["policy"]
    assert {k: policy[k] for k in expected} == expected


def test_what_the_scenario_says_wins(tmp_path, cli_json):
    policy = cli_json("simulate", _scenario(tmp_path, "neupims-4", routing="xpu-only"))["policy"]
    assert (policy["routing"], policy["batching"], policy["sub_batches"]) == ("xpu-only", "sub-batch-interleave", 2)  # fmt: skip
    # Naming another batching takes none of the system's batching settings (sub_batches).
    policy = cli_json("simulate", _scenario(tmp_path, "neupims-4", batching="continuous"))["policy"]
    assert (policy["routing"], policy["batching"], policy["sub_batches"]) == ("pim-attention", "continuous", 1)  # fmt: skip


def test_edge_preset_policy_and_one_peak_memory(tmp_path, cli_json):
    result = cli_json("simulate", _scenario(tmp_path, "edge-klonet-4", "llama-2-7b", max_num_seqs=1))  # fmt: skip
    policy = result["policy"]
    assert (policy["batching"], policy["allreduce"], policy["memory_window"]) == ("edge", "star", 2)
    assert result["devices"]["cpu"]["peak_memory_bytes"] == result["edge"]["peak_memory_bytes"]
    assert result["edge"]["peak_memory_bytes"] > 0
