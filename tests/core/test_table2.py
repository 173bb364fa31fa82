"""NanoFlow Table 2: LLaMA-2-70B on 8xA100, a 2048-token dense batch (1024 decodes with
1365 tokens of context each, plus a 1024-token prompt), whole model, ideal estimates
(312 TFLOPS, 2 TB/s, 300 GB/s per GPU). Values are the paper's own (papers.md section 2.4)."""

from __future__ import annotations

import pytest

# name: (GFLOP, memory GB, network GB, estimated ms)
TABLE2 = {
    "qkv": (27487.8, 19.5, 0.0, 11.01),
    "o_proj": (21990.2, 16.1, 0.0, 8.81),
    "gate_up": (153931.6, 96.6, 0.0, 61.67),
    "down": (76965.8, 49.7, 0.0, 30.84),
    "attn_decode": (3665.9, 462.2, 0.0, 28.89),
    "allreduce": (18.8, 75.2, 75.2, 31.33),
}


@pytest.fixture(scope="module")
def rows(request):
    from llmemu.cli.explain import explain
    from llmemu.cli.main import build_parser

    args = build_parser().parse_args(
        [
            "explain",
            "--model",
            "llama-2-70b",
            "--system",
            "a100x8-nvlink",
            "--decode-requests",
            "1024",
            "--context",
            "1365",
            "--prefill-tokens",
            "1024",
            "--ideal",
        ]
    )
    return {row["name"]: row for row in explain(args)["ops"]}


@pytest.mark.parametrize("name", TABLE2)
def test_matches_table2_within_2_percent(rows, name):
    gflop, mem_gb, net_gb, est_ms = TABLE2[name]
    row = rows[name]
    assert row["flops"] / 1e9 == pytest.approx(gflop, rel=0.02)
    assert row["bytes"] / 1e9 == pytest.approx(mem_gb, rel=0.02)
    assert row["net_bytes"] / 1e9 == pytest.approx(net_gb, rel=0.02, abs=1e-9)
    assert row["time_s"] * 1e3 == pytest.approx(est_ms, rel=0.02)


def test_two_allreduces_per_layer(rows):
    assert rows["allreduce"]["count"] == 2 * 80


def test_decode_attention_op_per_byte_is_the_gqa_group(rows):
    # Duplex §III-A: decode attention Op/B ~ deg_grp = 64 / 8 for LLaMA-2-70B.
    assert rows["attn_decode"]["op_per_byte"] == pytest.approx(8, rel=0.02)
