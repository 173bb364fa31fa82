"""Per-tensor widths: FP8 weights and KV cache with 16-bit activations and collectives."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_device, load_system
from llmemu.core.cost import Pricer
from llmemu.core.errors import ConfigError
from llmemu.core.ops import BatchShape
from llmemu.core.planner import allreduce, gemm, plan_iteration
from llmemu.core.specs.dtypes import dtype_update
from llmemu.core.specs.loading import load_model
from llmemu.core.specs.model import kv_bytes_per_token, weight_bytes


def fp8_llama():
    return load_model("llama-3.1-8b").model_copy(update=dtype_update("fp8"))


def test_fp8_means_fp8_weights_and_kv_with_16_bit_activations():
    assert dtype_update("fp8") == {"weight_dtype_bytes": 1, "kv_dtype_bytes": 1}
    m = fp8_llama()
    assert (m.weight_width, m.kv_width, m.dtype_bytes, m.comm_width) == (1, 1, 2, 2)


def test_fp8_weight_bytes_keep_the_lm_head_and_embedding_16_bit():
    # Llama-3.1-8B per layer: attention 4096 x (4096 + 2 x 1024) + 4096 x 4096 = 41,943,040;
    # FFN 3 x 4096 x 14336 = 176,160,768; x 32 layers = 6,979,321,856 at 1 byte.
    # Embedding + LM head: 2 x 128256 x 4096 = 1,050,673,152 at 2 bytes.
    assert weight_bytes(fp8_llama()) == 6_979_321_856 + 2 * 1_050_673_152


def test_fp8_kv_cache_halves_bytes_per_token():
    # 2 (K and V) x 32 layers x 8 KV heads x 128 x 1 byte
    assert kv_bytes_per_token(fp8_llama()) == 65_536
    only_kv = load_model("llama-3.1-8b").model_copy(update=dtype_update(kv_dtype="fp8"))
    assert (only_kv.weight_width, only_kv.kv_width) == (2, 1)
    assert kv_bytes_per_token(only_kv) == 65_536


def test_a_16_bit_dtype_sets_every_tensor_again():
    m = fp8_llama().model_copy(update=dtype_update("fp32"))
    assert (m.weight_width, m.kv_width, m.dtype_bytes, m.comm_width) == (4, 4, 4, 4)


def test_unknown_dtype_names_the_field():
    with pytest.raises(ConfigError, match="kv_dtype 'fp7'"):
        dtype_update(kv_dtype="fp7")


def test_fp8_gemm_moves_1_byte_weights_and_2_byte_activations():
    op = gemm("qkv", 16, 4096, 6144, 2, 1)
    # activations (16 x 4096 in + 16 x 6144 out) x 2 bytes + 4096 x 6144 weights x 1 byte
    assert op.bytes == (16 * 4096 + 16 * 6144) * 2 + 4096 * 6144
    assert op.weight_bytes == 4096 * 6144
    assert op.compute_bytes == 1


def test_fp8_plan_keeps_allreduce_and_lm_head_16_bit():
    m = fp8_llama()
    plan = plan_iteration(m, BatchShape(num_decode=4, decode_context=400, num_logits=4), 2)
    ops = {op.name: op for op in plan.ops()}
    assert ops["allreduce"].payload_bytes == 4 * 4096 * 2
    assert ops["allreduce"] is allreduce(load_model("llama-3.1-8b"), 4, 2)
    assert ops["lm_head"].weight_bytes == 4096 * 128256 * 2
    # decode attention reads 400 tokens x 2 (K, V) x 8 heads x 128 x 1 byte per layer
    q_and_out = 2 * 4096 * 2 * 4
    assert ops["attn_decode"].bytes == 400 * 2 * 1024 * 1 + q_and_out


def test_fp8_gemm_is_priced_at_the_fp8_peak_and_its_own_efficiency():
    h100 = load_device("h100")
    system = load_system("h100x1")
    pricer = Pricer(system, 2)
    big = gemm("gate_up", 8192, 4096, 28672, 2, 1)
    eff = h100.efficiency
    half = eff.compute_half_tokens
    fp8_flops = h100.peak_flops["fp8"] * (eff.compute_fp8 or eff.compute)
    expected = big.flops * (8192 + half) / (8192 * fp8_flops) + h100.op_overhead_s
    assert pricer.time(big, "h100") == pytest.approx(expected, rel=1e-12)
