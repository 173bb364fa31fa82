"""The CLI: determinism, JSON keys, and one clear line for every bad scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIO = """
model: llama-3-8b
system: h100x1
policy: {max_num_seqs: 64, max_num_batched_tokens: 2048}
workload:
  requests: 80
  arrival: {kind: poisson, rate: 8}
  input_tokens: {kind: normal, mean: 300, std: 50}
  output_tokens: {kind: uniform, low: 10, high: 100}
seed: 3
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    return path


def test_same_seed_gives_identical_json_apart_from_wall_time(cli_json, scenario):
    a, b = cli_json("simulate", str(scenario)), cli_json("simulate", str(scenario))
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b


def test_json_has_the_documented_keys(cli_json, scenario):
    r = cli_json("simulate", str(scenario))
    for key in ("output_tokens_per_s", "total_tokens_per_s", "requests_per_s"):
        assert r["throughput"][key] > 0
    for metric in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
        assert set(r[metric]) >= {"mean", "p50", "p90", "p99"}
    assert r["requests"]["completed"] == 80
    assert "preempted" in r["requests"]
    device = r["devices"]["h100"]
    assert set(device) >= {"utilization", "busy_s", "flops", "bytes", "peak_memory_bytes"}
    assert r["simulated_s"] > 0 and r["iterations"] > 0 and r["wall_s"] > 0


def test_set_overrides_a_nested_key(cli_json, scenario):
    slow = cli_json("simulate", str(scenario), "--set", "workload.arrival.rate=2")
    assert slow["throughput"]["requests_per_s"] == pytest.approx(2, rel=0.35)


def test_output_tokens_are_what_was_asked(cli_json, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        SCENARIO.replace("{kind: uniform, low: 10, high: 100}", "{kind: constant, value: 50}")
    )
    r = cli_json("simulate", str(path))
    # 80 requests x 50 tokens over the simulated span
    assert r["throughput"]["output_tokens_per_s"] * r["simulated_s"] == pytest.approx(4000)


BAD = {
    "unknown preset": ("model: llama-9", "unknown model 'llama-9'"),
    "negative rate": (
        "{kind: poisson, rate: 8}|{kind: poisson, rate: -1}",
        "workload.arrival.poisson.rate",
    ),
    "does not fit": ("system: h100x1|system: a100-40gx1\nmodel: llama-2-70b", "weights"),
    "malformed": ("policy: {max_num_seqs: 64,|policy: {max_num_seqs: [64,", "not valid YAML"),
    "unknown routing": ("policy: {|policy: {routing: magic, ", "unknown policy.routing 'magic'"),
    "window outside edge": (
        "policy: {|policy: {memory_window: 2, ",
        "policy.memory_window=2 has no effect with batching 'continuous' (only edge reads it); "
        "set policy.batching to edge, or set policy.memory_window to 0 or remove it",
    ),
    "sub-batches outside interleave": (
        "policy: {|policy: {batching: nanoflow, sub_batches: 2, ",
        "policy.sub_batches=2 has no effect with batching 'nanoflow'",
    ),
    "negative seed": ("seed: 3|seed: -1", "seed"),
    "absurd length": (
        "{kind: normal, mean: 300, std: 50}|{kind: constant, value: 100000000000000000000}",
        "input_tokens",
    ),
    "processor without device": (
        "system: h100x1|system: {name: mine, processors: [{name: gpu}]}",
        "processors[0] needs a device",
    ),
    "zero peak": (
        "system: h100x1|system: {name: mine, processors: [{name: gpu, device: {name: x, "
        "kind: gpu, peak_flops: {fp16: 0}, memory_bytes_per_s: 1.0e12, "
        "memory_capacity_bytes: 8.0e10, efficiency: {compute: 0.5, memory: 0.5}}}]}",
        "every peak must be > 0",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_scenarios_end_with_one_clear_line_and_exit_2(tmp_path, case):
    edit, expected = BAD[case]
    text = SCENARIO
    if "|" in edit:
        old, new = edit.split("|")
        text = text.replace(old, new)
    else:
        text = text.replace("model: llama-3-8b", edit)
    if case == "does not fit":
        text = text.replace("model: llama-3-8b\n", "")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "llmemu.cli.main", "simulate", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert expected in lines[0]


def test_missing_file_is_a_clear_error(cli, tmp_path):
    code, _, err = cli("simulate", str(tmp_path / "nope.yaml"))
    assert code == 2 and "does not exist" in err


def test_paths_values_and_batches_that_cannot_work_are_one_line_errors(cli, scenario, tmp_path):
    code, _, err = cli("simulate", str(tmp_path))  # a directory
    assert code == 2 and "is a directory, not a regular file" in err and "Traceback" not in err
    code, _, err = cli("simulate", str(scenario), "--set", "seed=[")
    assert code == 2 and "not valid YAML" in err
    code, _, err = cli("explain", "--model", "llama-3-8b", "--system", "h100x1")
    assert code == 2 and "the batch is empty" in err
    code, _, err = cli("explain", "--model", "llama-3-8b", "--system", "h100x1", "--context", "-5")
    assert code == 2 and "--context -5" in err


LENGTHS_SCENARIO = """
model: llama-3-8b
system: h100x1
workload: {requests: 4, arrival: {kind: burst}, lengths: {kind: csv, path: lengths.csv}}
"""


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        ("", "needs a header line and at least one row"),
        ("input_tokens,output_tokens\n", "needs a header line and at least one row"),
        ("input_tokens,output_tokens\n12,x\n", "lengths.csv:2"),
        ("input_tokens,output_tokens\n12\n", "lengths.csv:2"),
    ],
)
def test_a_broken_lengths_file_names_its_line(cli, tmp_path, csv, expected):
    (tmp_path / "lengths.csv").write_text(csv)
    (tmp_path / "s.yaml").write_text(LENGTHS_SCENARIO)
    code, _, err = cli("simulate", str(tmp_path / "s.yaml"))
    assert code == 2 and expected in err


TRACE_SCENARIO = """
model: llama-3-8b
system: h100x1
workload: {requests: 3, trace: trace.jsonl}
"""


def test_a_trace_is_sorted_by_arrival_and_non_finite_times_are_refused(cli_json, cli, tmp_path):
    rows = [(0.0, 100, 10), (0.5, 200, 20), (1.0, 300, 30)]
    line = '{{"arrival_s": {}, "input_tokens": {}, "output_tokens": {}}}'
    (tmp_path / "s.yaml").write_text(TRACE_SCENARIO)
    results = []
    for order in (rows, rows[::-1]):
        (tmp_path / "trace.jsonl").write_text("\n".join(line.format(*r) for r in order))
        out = cli_json("simulate", str(tmp_path / "s.yaml"))
        results.append((out["ttft_s"], out["e2e_s"], out["queue_s"]))
    assert results[0] == results[1]
    (tmp_path / "trace.jsonl").write_text(line.format("NaN", 10, 10))
    code, _, err = cli("simulate", str(tmp_path / "s.yaml"))
    assert code == 2 and "finite time" in err


def test_presets_lists_required_names(cli):
    code, out, _ = cli("presets", "--json")
    listing = json.loads(out)
    assert {"h100", "h200", "a100", "a100-40g", "b200", "mi300x"} <= set(listing["devices"])
    assert {"h100x1", "h100x4", "a100x2", "a100-40gx1", "a100x8-nvlink"} <= set(listing["systems"])
    assert {"llama-3-8b", "mixtral-8x7b", "gpt3-175b"} <= set(listing["models"])
    assert listing["engines"] == ["none", "sglang", "trtllm", "vllm"]


def test_rejected_requests_say_why(cli_json, cli, tmp_path):
    # Llama-3-70B on two H100s: 144e9 B (2 x 80 GB x 0.9) - 141.10e9 of weights - 1.92e9 of
    # activations (2 x 8192 tokens x 57344 x 2 B + 4 x 256 x 128256) leaves 0.885e9 B, at
    # 327680 B per token (80 layers x 8 KV heads x 128 x 2 x 2 B) 2700.8 tokens, so 168 whole
    # blocks of 16 = 2688 tokens: 7000 + 1000 do not fit.
    (tmp_path / "r.yaml").write_text(
        "model: llama-3-70b\nsystem: h100x2\nworkload: {requests: 5, arrival: {kind: burst}, "
        "input_tokens: {kind: constant, value: 7000}, output_tokens: {kind: constant, value: 1000}}\n"
    )
    out = cli_json("simulate", str(tmp_path / "r.yaml"))
    reason = "prompt + output longer than the KV cache holds (2688 tokens)"
    assert out["requests"]["rejected_because"] == {reason: 5}
    code, text, _ = cli("simulate", str(tmp_path / "r.yaml"))
    assert code == 0 and f"rejected   5 x {reason}" in text


def test_nonsense_options_are_refused_by_name(cli, scenario, tmp_path):
    code, _, err = cli("reproduce", "tpi-llm", "--jobs", "0")
    assert code == 2 and "--jobs: 0 must be 1 or more" in err
    code, _, err = cli("sweep", str(scenario), "--grid", "seed=1", "--jobs", "0")
    assert code == 2 and "--jobs: 0 must be 1 or more" in err
    code, _, err = cli("tune", str(scenario), "--evaluations", "-3")
    assert code == 2 and "--evaluations: -3 must be 1 or more" in err
    code, _, err = cli("simulate", str(scenario), "--set", "policy.expert_routing=zzz")
    assert code == 2 and "policy.expert_routing" in err
    (tmp_path / "list.json").write_text("[1, 2]")
    code, _, err = cli("report", str(tmp_path / "list.json"), "--out", str(tmp_path / "r"))
    assert code == 2 and "neither a `simulate --json` summary nor a `sweep` result" in err
