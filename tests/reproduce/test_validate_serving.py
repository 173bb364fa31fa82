"""`llmemu validate`: TensorRT-LLM 0.13's published throughput as scenarios, and the score."""

from __future__ import annotations

import math

import pytest

from llmemu.core.catalog import load_system
from llmemu.reproduce.serving import emulate, mape, score
from llmemu.reproduce.serving_rows import (
    HELD_OUT,
    Row,
    bench_sizing,
    load_rows,
    row_model,
    row_scenario,
)


def _row(model, gpu, dtype, tp, isl, osl):
    return next(r for r in load_rows() if r.key == (model, gpu, dtype, tp, isl, osl))


def test_the_table_and_its_held_out_rows():
    rows = load_rows()
    assert len(rows) == 30
    assert {r.key for r in rows if r.held_out} == set(HELD_OUT)
    fp8 = _row("Llama-3.1-8B", "H100", "FP8", 1, 1000, 1000)
    fp16 = _row("Llama-3.1-8B", "H100", "FP16", 1, 1000, 1000)
    assert fp8.published / fp16.published == pytest.approx(1.87, abs=0.005)  # 13411 / 7161


def test_sizing_of_llama_3_1_8b_fp16_on_one_h100():
    row = _row("Llama-3.1-8B", "H100", "FP16", 1, 1000, 1000)
    model = row_model(row)
    # 95 % of (80 GB - 8,029,995,008 params x 2 bytes) / (2 x 32 x 8 x 128 x 2 bytes per
    # token) / 2,000 tokens = 231.7 requests -> 256 (multiples of 32 below 256);
    # 231.7 x (1 + 1000 / 1000) = 463 tokens -> the 2,048 floor.
    requests = 0.95 * (80e9 - 8_029_995_008 * 2) / (2 * 32 * 8 * 128 * 2) / 2000
    assert requests == pytest.approx(231.7, abs=0.05)
    assert bench_sizing(model, load_system("h100x1"), 1000, 1000) == (256, 2048)


def test_sizing_of_llama_3_1_70b_fp8_on_four_h100():
    row = _row("Llama-3.1-70B", "H100", "FP8", 4, 2048, 128)
    model = row_model(row)
    # FP8: 1 byte per parameter and per KV element; 95 % of (320 GB - 70,552,387,584 B)
    # / (2 x 80 x 8 x 128 x 1) / 2,176 = 664.7 -> 768 (multiples of 128 in 256..1023);
    # 664.7 x (1 + 2048 / 128) = 11,300 tokens -> 12,288 (multiples of 1,024 above 8,192).
    requests = 0.95 * (320e9 - 70_552_387_584) / (2 * 80 * 8 * 128) / 2176
    assert requests == pytest.approx(664.7, abs=0.05)
    assert math.ceil(requests * 17 / 1024) * 1024 == 12288
    assert bench_sizing(model, load_system("h100x4"), 2048, 128) == (768, 12288)


def test_a_row_runs_as_trtllm_bench_does():
    row = _row("Llama-3.1-70B", "H100", "FP8", 4, 2048, 128)
    model, system, policy, workload = row_scenario(row)
    assert (model.weight_width, model.kv_width, model.dtype_bytes) == (1, 1, 2)
    assert system.tensor_parallel == 4
    assert (policy.engine, policy.admission) == ("trtllm", "projected-peak")
    assert workload.requests == 3000 and workload.arrival.kind == "burst"
    assert row_scenario(row, requests=100)[3].requests == 100


def test_row_properties():
    row = Row("Llama-3.1-8B", "H100", "FP8", 1, 128, 128, 27147.22)
    assert row.requests == 30000
    assert row.group == "H100 FP8 TP1"
    assert not row.held_out


FAST_ROWS = [
    ("Llama-3.1-8B", "H100", "FP8", 1, 2048, 128),
    ("Llama-3.1-8B", "A100", "FP16", 1, 2048, 128),
    ("Llama-3.1-70B", "H100", "FP16", 4, 2048, 128),
    ("Llama-3.1-70B", "H100", "FP8", 4, 2048, 128),
]
"""One row per GPU / dtype / TP kind whose burst of 256 requests runs in about two seconds."""


def test_fast_subset_within_the_bounds():
    scored = score([_row(*key) for key in FAST_ROWS], requests=256)
    errors = {s.row.label: round(s.error, 3) for s in scored}
    assert all(abs(e) <= 0.20 for e in errors.values()), errors
    assert mape(scored) <= 0.10, errors


@pytest.mark.slow
def test_fp8_speedup_and_tp8_gain_on_h100_within_10_percent():
    """TensorRT-LLM's FP8 over FP16 on one H100 (13,411 / 7,161 = 1.87x) and TP4 -> TP8 for
    Llama-3.1-70B FP16 (5,599 / 3,656 = 1.53x), with bursts of 1,024 requests."""
    fp8, fp16, tp4, tp8 = (
        emulate(_row(*key), 1024)
        for key in [
            ("Llama-3.1-8B", "H100", "FP8", 1, 1000, 1000),
            ("Llama-3.1-8B", "H100", "FP16", 1, 1000, 1000),
            ("Llama-3.1-70B", "H100", "FP16", 4, 1000, 1000),
            ("Llama-3.1-70B", "H100", "FP16", 8, 1000, 1000),
        ]
    )
    assert fp8 / fp16 == pytest.approx(13411.43 / 7160.92, rel=0.10)
    assert tp8 / tp4 == pytest.approx(5599.45 / 3655.64, rel=0.10)
