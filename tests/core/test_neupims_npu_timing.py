"""The NeuPIMs simulator's NPU timing (benchmarks/onnxim_npu.py) by hand, and the
`neupims-npu` preset against it through the real Pricer."""

from __future__ import annotations

import numpy as np
import pytest
from tests.benchmark_modules import load

from llmemu.core.catalog import load_device, load_system
from llmemu.core.cost import Pricer
from llmemu.core.ops import BatchShape
from llmemu.core.planner import attn_decode
from llmemu.core.specs.loading import load_model

onnxim = load("onnxim_npu")
calibrate = load("calibrate_neupims")


def test_tiles_halve_the_largest_side_until_half_the_scratchpad_holds_them():
    """Half of the 134,218 KB scratchpad is 68,719,616 B. GPT-3 7B QKV at TP 4 and 512 tokens
    needs (512 x 4096 + 4096 x 3072 + 3072 x 512) x 2 B = 32,505,856 B: one tile. GPT-3 30B QKV
    at 16 tokens (padded to 128) needs (128 x 7168 + 7168 x 5376 + 5376 x 128) x 2 B =
    80,281,600 B, so K halves once: (128 x 3584 + 3584 x 5376 + 5376 x 128) x 2 B = 40,828,928."""
    assert onnxim.l2_tile(512, 4096, 3072) == ([512, 4096, 3072], [1, 1, 1])
    assert onnxim.l2_tile(16, 7168, 5376) == ([16, 3584, 5376], [1, 2, 1])


def test_a_large_gemm_is_bound_by_its_arrays_and_a_small_one_by_memory():
    """7B QKV at 512 tokens: 4 x 32 stationary blocks, each preloaded (128 cycles) and then
    streaming 3072 / 128 = 24 weight passes of 16 cycles: 128 x (128 + 23 x 16) = 63,488
    cycles, more than its 32,505,856 B at 1024 x 0.821 B/cycle (38,665), and 0.774 of peak
    (2 x 512 x 4096 x 3072 FLOP / (63,488 x 262,144)). At 128 tokens: 32 x 496 = 15,872
    cycles of arrays against (3072 x 4096 + 4096 x 128 + 3072 x 128) x 2 B = 27,000,832 B
    of memory: 32,117 cycles, memory-bound."""
    cycles = onnxim.gemm_cycles(512, 4096, 3072)
    assert cycles == 63_488
    flops = 2 * 512 * 4096 * 3072
    assert flops / (cycles * onnxim.PEAK_FLOPS_PER_CYCLE) == pytest.approx(0.774, abs=0.001)
    assert onnxim.gemm_cycles(128, 4096, 3072) == pytest.approx(27_000_832 / (1024 * 0.821))


def test_decode_attention_per_head():
    """62 tokens: q.K^T is one block of one pass (128), softmax 2 x 1 + 3 = 5, s.V one block
    (128): 261. 300 tokens: q.K^T 128 + 2 x 16 = 160, softmax 2 x (3 + 1) + 3 x 3 = 17, s.V
    three blocks 384: 561."""
    assert onnxim.attention_head_cycles(62) == 261
    assert onnxim.attention_head_cycles(300) == 561


def test_preset_gemms_follow_onnxim_within_the_documented_error():
    """docs/heterogeneous.md: MAPE 2.3% over the grid's 144 GEMMs (one parameter set)."""
    data = calibrate.rows()
    errors = []
    for _, tp, op, seconds in data:
        errors.append(Pricer(load_system(f"npu-only-{tp}"), 2).time(op, "npu") / seconds - 1)
    assert np.mean(np.abs(errors)) == pytest.approx(0.023, abs=0.005)


def test_preset_attention_follows_onnxim_on_average():
    """One request of GPT-3 7B at TP 4 (8 heads per device) over 300 tokens: the preset prices
    (300 + 162) x 1.1641 cycles per head, 8 x 537.8 = 4,302 cycles = 4.30 us; ONNXim's heads
    cost 561 each, 4.49 us. Over contexts 1..1024 the preset is 1.4% below ONNXim on average."""
    npu = load_device("neupims-npu")
    assert npu.efficiency.attention_request_tokens == 162
    op = attn_decode(load_model("gpt3-7b"), BatchShape(num_decode=1, decode_context=300))
    seconds = Pricer(load_system("npu-only-4"), 2).time(op, "npu")
    assert seconds == pytest.approx(8 * (300 + 162) * 1.1641e-9, rel=0.005)
    mirror = sum(onnxim.attention_head_cycles(n) for n in range(1, 1025))
    preset = sum((n + 162) * 1.1641 for n in range(1, 1025))
    assert mirror / preset == pytest.approx(1.014, abs=0.002)
