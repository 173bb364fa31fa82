"""Per-request fixed work of decode attention (Efficiency.attention_request_tokens), by hand."""

from __future__ import annotations

import pytest

from llmemu.core.cost import Pricer
from llmemu.core.ops import BatchShape, Op, OpKind
from llmemu.core.planner import attn_decode, gemm
from llmemu.core.specs.device import DeviceSpec, Efficiency
from llmemu.core.specs.loading import load_model
from llmemu.core.specs.system import Processor, SystemSpec


def _pricer(pad: float, *, ideal: bool = False) -> Pricer:
    """One device: 1 TFLOP/s, attention at half of it, memory fast enough never to bind."""
    device = DeviceSpec(
        name="toy",
        kind="npu",
        peak_flops={"fp16": 1e12},
        memory_bytes_per_s=1e18,
        memory_capacity_bytes=1e9,
        efficiency=Efficiency(
            compute=1.0, attention_compute=0.5, memory=1.0, attention_request_tokens=pad
        ),
    )
    system = SystemSpec(name="toy", processors=(Processor(name="npu", device=device),))
    return Pricer(system, 2, ideal=ideal)


def _attention(requests: int, context: int) -> Op:
    return Op(
        "attn_decode",
        OpKind.ATTENTION,
        flops=1e9,
        bytes=1.0,
        tokens=requests,
        context_tokens=context,
    )


def test_each_request_costs_pad_tokens_more_context():
    """1e9 FLOP at 0.5 x 1e12 FLOP/s = 2 ms for 100 requests over 10,000 tokens; 50 tokens of
    fixed work per request make it 10,000 + 100 x 50 = 15,000 tokens' worth: 3 ms."""
    assert _pricer(0.0).time(_attention(100, 10_000), "npu") == pytest.approx(2e-3)
    assert _pricer(50.0).time(_attention(100, 10_000), "npu") == pytest.approx(3e-3)


def test_pad_leaves_other_ops_and_ideal_rates_alone():
    """A GEMM has no context (4 x 8 x 8 x 2 = 512 FLOP at 1e12: 0.512 ns either way), and
    --ideal drops fixed work like every other overhead: 1e9 / 1e12 = 1 ms."""
    matmul = gemm("qkv", 4, 8, 8, 2)
    assert _pricer(50.0).time(matmul, "npu") == pytest.approx(_pricer(0.0).time(matmul, "npu"))
    assert _pricer(50.0, ideal=True).time(_attention(100, 10_000), "npu") == pytest.approx(1e-3)


def test_planner_gives_decode_attention_its_context():
    """The op carries the batch's summed context and its request count, nothing else does."""
    model = load_model("gpt3-7b")
    op = attn_decode(model, BatchShape(num_decode=3, decode_context=900, num_logits=3))
    assert (op.tokens, op.context_tokens) == (3, 900)
    assert gemm("o_proj", 3, 4096, 4096, 2).context_tokens == 0
