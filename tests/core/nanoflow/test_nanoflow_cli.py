"""`llmemu tune`, `explain --timeline` and the optimal throughput in `simulate --json`."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCENARIO = str(REPO / "examples" / "nanoflow-llama2-70b-a100x8.yaml")
EXPLAIN = (
    "explain",
    "--model", "llama-2-70b",
    "--system", "a100x8-nvlink",
    "--decode-requests", "1024",
    "--context", "768",
    "--prefill-tokens", "1024",
)  # fmt: skip


def test_tune_prints_a_pipeline_faster_than_sequential(cli_json):
    report = cli_json("tune", SCENARIO, "--evaluations", "30", "--set", "workload.requests=50")
    options = report["options"]
    assert sum(options["nano_batches"]) == 2048
    assert report["iteration_s"] < report["sequential_iteration_s"]
    # The example's 512/512 run forms full 2048-token batches only (the pool holds its
    # ~1023 decodes of <= 1024 tokens): one batch, 2048 tokens per iteration over 8 GPUs.
    assert [(b["tokens"], b["share_of_iterations"]) for b in report["batches"]] == [(2048, 1.0)]
    assert report["tokens_per_s_per_device"] == pytest.approx(2048 / report["iteration_s"] / 8)


@pytest.mark.parametrize("batching", ["nanoflow", "sequential"])
def test_explain_draws_the_timeline(cli_json, tmp_path, batching):
    out = tmp_path / f"{batching}.png"
    sets = ("--set", f"batching={batching}", "--set", "max_num_batched_tokens=2048")
    report = cli_json(*EXPLAIN, *sets, "--timeline", str(out))
    assert report["timeline"] == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_reports_the_optimal_beside_the_emulated(cli_json):
    # Any option runs the paper's pipeline without searching one (test_nanoflow_auto.py).
    summary = cli_json("simulate", SCENARIO, "--set", "workload.requests=40", "--set", "policy.options.overlap=true")  # fmt: skip
    throughput = summary["throughput"]
    assert throughput["total_tokens_per_s_per_device"] == pytest.approx(
        throughput["total_tokens_per_s"] / 8
    )
    assert (
        throughput["total_tokens_per_s_per_device"] < throughput["optimal_tokens_per_s_per_device"]
    )
