"""The shipped GPU presets against measured kernel times, priced through the real `Pricer`.

Issue 2 asks for GEMM times within 15% mean absolute percentage error (MAPE) per operation
kind of the kernel data in data/kernels/vidur (Vidur's A100 and H100 profiles). Every row
counts: the smallest kernels (5-10 us) are where the per-kernel overhead matters, not noise
to drop. This project's own H100/H200 measurements (data/kernels/measured) are held to the
same bound. `benchmarks/calibrate.py` prints the same numbers; docs/calibration.md records them.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.benchmark_modules import load

from llmemu.core.catalog import load_device

MAX_MAPE = 0.15


kernel_data = load("kernel_data")
nanoflow_table2 = load("nanoflow_table2")


@pytest.fixture(scope="module")
def rows():
    return {src: kernel_data.load_rows(src) for src in ("vidur", "measured")}


@pytest.mark.parametrize(
    ("source", "gpu"),
    [("vidur", "a100"), ("vidur", "h100"), ("measured", "h100"), ("measured", "h200")],
)
def test_gemm_mape_per_op_kind_within_15_percent(rows, source, gpu):
    data = rows[source][gpu]
    mape = kernel_data.mape_by_op(data, kernel_data.price(data, load_device(gpu)))
    assert set(mape) == {*kernel_data.OP_KINDS, "all"}
    worst = {op: round(v, 3) for op, v in mape.items() if v > MAX_MAPE}
    assert worst == {}, f"{gpu} {source}: MAPE above 15%: {worst}"


def test_vidur_row_becomes_the_whole_replica_gemm(rows):
    # Llama-2-7B: hidden 4096, 32 heads (and 32 KV heads) of 128, FFN 11008, gated.
    llama = [r for r in rows["vidur"]["a100"] if r.model == "Llama-2-7b-hf"]
    qkv = next(r for r in llama if r.op == "qkv" and r.m == 4096 and r.tp == 1)
    assert (qkv.k, qkv.n) == (4096, (32 + 2 * 32) * 128)  # n = 12288
    assert qkv.as_op().flops == 2 * 4096 * 4096 * 12288  # 412,316,860,416
    o_tp8 = next(r for r in llama if r.op == "o_proj" and r.tp == 8)
    assert (o_tp8.k, o_tp8.n) == (32 * 128, 4096)  # whole k; the GPU's share is 512
    up = next(r for r in llama if r.op == "gate_up")
    assert (up.k, up.n) == (4096, 2 * 11008)
    phi_up = next(r for r in rows["vidur"]["a100"] if r.model == "phi-2" and r.op == "gate_up")
    assert phi_up.n == 10240  # phi-2 is not gated: one up projection of FFN 10240


def test_measured_row_undoes_the_tp_split(rows):
    # h100__llmemu.csv: "qkv,llama-3-8b,2,1,4096,3072": the per-GPU n of (32 + 2*8)*128 / 2.
    row = next(
        r
        for r in rows["measured"]["h100"]
        if (r.model, r.op, r.tp, r.m) == ("llama-3-8b", "qkv", 2, 1)
    )
    assert (row.k, row.n) == (4096, 6144)
    assert row.seconds == pytest.approx(0.0142742e-3)


def test_a100_price_of_one_row_by_hand(rows):
    # a100 preset: 312 TFLOPS x 0.743, half at 75 rows; 2 TB/s x 0.821; 6.4 us per kernel.
    llama = [r for r in rows["vidur"]["a100"] if r.model == "Llama-2-7b-hf" and r.tp == 1]
    up = [r for r in llama if r.op == "gate_up" and r.m in (1, 4096)]
    priced = dict(zip([r.m for r in up], kernel_data.price(up, load_device("a100")), strict=True))
    # m = 4096, compute-bound: 2*4096*4096*22016 = 738,734,374,912 FLOP at
    # 312e12 * 0.743 * 4096/4171 = 227.65e12 FLOP/s -> 3.2451 ms, + 6.4 us = 3.2515 ms
    # (measured 3.3655 and 3.3240 ms).
    assert priced[4096] == pytest.approx(3.2515e-3, rel=1e-4)
    # m = 1, memory-bound: 2 B * (4096 + 4096*22016 + 22016) = 180,407,296 B at
    # 2e12 * 0.821 B/s -> 109.87 us, + 6.4 us = 116.27 us (measured 116 us).
    assert priced[1] == pytest.approx(116.27e-6, rel=1e-4)


def test_nanoflow_table2_real_column():
    """Non-ideal `explain` of NanoFlow's batch against Table 2's Real column (ms, whole model).

    The a100's `memory` and `network` were solved from DecAttn 35.60 and Net 47.92 ms, so these
    two must land on them. QKV 16.08 is met too. The O, UG and D projections are not: NanoFlow's
    own kernels run O slower and UG and D faster than the cuBLAS kernels that Vidur timed on the
    same A100 shapes, and the preset follows Vidur (docs/calibration.md)."""
    ms = nanoflow_table2.op_times_ms(load_device("a100"))
    assert ms["attn_decode"] == pytest.approx(35.60, rel=0.01)
    assert ms["allreduce"] == pytest.approx(47.92, rel=0.01)
    assert ms["qkv"] == pytest.approx(16.08, rel=0.05)


def test_table2_gemms_match_vidur_timing_of_the_same_shapes(rows):
    # Llama-3-70B at TP 8 has Llama-2-70B's projections; Table 2's batch is 2048 tokens and
    # the model has 80 layers, so Vidur's per-layer time x 80 is the whole-model time.
    ms = nanoflow_table2.op_times_ms(load_device("a100"))
    same = [r for r in rows["vidur"]["a100"] if r.model == "Meta-Llama-3-70B" and r.tp == 8]
    for op in ("qkv", "o_proj", "gate_up", "down"):
        vidur_ms = 80e3 * np.mean([r.seconds for r in same if r.op == op and r.m == 2048])
        assert ms[op] == pytest.approx(vidur_ms, rel=0.05), op
