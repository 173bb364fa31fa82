"""Long-context attention files stay out of the GEMM fits; their rows price the planner's op."""

from __future__ import annotations

import pytest
from tests.benchmark_modules import load

kernel_data = load("kernel_data")
longctx = load("longctx_attention_check")


def test_longctx_csv_is_neither_an_fp16_nor_an_fp8_gemm_source(tmp_path, monkeypatch):
    for name in ("h200__llmemu.csv", "h200_fp8__llmemu.csv", "h200_longctx__llmemu.csv"):
        (tmp_path / name).write_text("op\n")
    monkeypatch.setattr(kernel_data, "MEASURED_DIR", tmp_path)
    assert [p.name for p in kernel_data.measured_paths()] == ["h200__llmemu.csv"]
    assert [p.name for p in kernel_data.measured_paths(fp8=True)] == ["h200_fp8__llmemu.csv"]


def test_decode_row_prices_the_bytes_the_kernel_moves():
    # Llama-3-8B at TP 1: 32 query heads, 8 KV heads of 128, one sequence of 131072 tokens.
    row = {"op": "decode_attn", "heads": "32", "kv_heads": "8", "head_dim": "128"}
    op = longctx.as_op(row | {"batch": "1", "context": "131072"})
    kv = 2 * 1 * 8 * 131072 * 128 * 2  # K and V, FP16: 536,870,912 bytes
    q_and_out = 2 * 1 * 32 * 128 * 2  # 16,384 bytes
    assert op.bytes == pytest.approx(kv + q_and_out)
    assert op.flops == pytest.approx(4.0 * 1 * 32 * 131072 * 128)


def test_prefill_row_counts_half_the_causal_scores():
    row = {"op": "prefill_attn", "heads": "32", "kv_heads": "8", "head_dim": "128"}
    op = longctx.as_op(row | {"batch": "1", "context": "16384"})
    # 4 flops per (query, key, dim) over the L(L+1)/2 causal pairs of 32 heads
    assert op.flops == pytest.approx(4.0 * 32 * 128 * 16384 * 16385 / 2)
