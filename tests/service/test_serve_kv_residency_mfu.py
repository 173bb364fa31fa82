"""The embedded server exports the KV block residency and MFU series (the distributed scheduler
does too), each family once, with values worked out by hand for one lone request."""

from __future__ import annotations

from collections import Counter

import pytest
from serve_helpers import in_process, make_app, sample

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def _one_request() -> str:
    # 48 prompt token ids and 2 output tokens on llama-3-8b, h100x1 (block_size 16).
    body = {"prompt": list(range(100, 148)), "max_tokens": 2, "ignore_eos": True}
    async with in_process(make_app(served_model_name="m")) as c:
        usage = (await c.post("/v1/completions", json=body)).json()["usage"]
        assert (usage["prompt_tokens"], usage["completion_tokens"]) == (48, 2)
        return (await c.get("/metrics")).text


async def test_block_lifetimes_of_a_lone_request():
    text = await _one_request()
    assert 'block_size="16"' in text
    # Iteration 1 [s0, e0] computes the 48 prompt tokens: 3 blocks, born at s0 (the request's
    # first scheduling). Iteration 2 [e0, e1] computes token 49: a 4th block, born at e0. The
    # request finishes at e1 and frees all 4: 3 live e1 - s0 (its inference time), 1 lives
    # e1 - e0 (its decode time).
    inference = sample(text, "vllm:request_inference_time_seconds_sum")
    decode = sample(text, "vllm:request_decode_time_seconds_sum")
    assert 0 < decode < inference
    for name in ("vllm:kv_block_lifetime_seconds", "vllm:kv_block_idle_before_evict_seconds"):
        assert sample(text, f"{name}_count") == 4  # ceil((48 + 2 - 1) / 16)
        assert sample(text, f"{name}_sum") == pytest.approx(3 * inference + decode, rel=1e-9)
    assert sample(text, "vllm:kv_block_reuse_gap_seconds_count") == 0  # no prefix cache


async def test_mfu_series_and_one_family_per_name():
    text = await _one_request()
    # llama-3-8b per layer: q, o 4096x4096 + k, v 4096x1024 + MLP 3 x 4096x14336 = 218.1M
    # weights; x 32 layers = 6.979e9. 49 computed tokens x 2 FLOPs per weight = 6.840e11, plus
    # lm_head for 2 logits (2 x 4096 x 128256 x 2 = 2.1e9) and attention over <= 49 tokens
    # (~1e9). One H100: per GPU is the total.
    assert sample(text, "vllm:estimated_flops_per_gpu_total") == pytest.approx(6.861e11, rel=0.01)
    # Two iterations each read every weight once: (6.979e9 + 0.525e9 lm_head) x 2 B x 2 = 30.0e9.
    assert sample(text, "vllm:estimated_read_bytes_per_gpu_total") == pytest.approx(30.0e9, rel=0.02)  # fmt: skip
    # Writes are outputs: per token and layer qkv 6144 + o 4096 + gate/up 28672 + down 4096 +
    # attention 4096 = 47104 elements x 2 B x 32 layers = 3.015e6 B; x 49 tokens = 1.477e8,
    # plus 2 logits x 128256 x 2 B = 5.1e5: 1.482e8.
    assert sample(text, "vllm:estimated_write_bytes_per_gpu_total") == pytest.approx(1.482e8, rel=0.01)  # fmt: skip
    types = Counter(line.split()[2] for line in text.splitlines() if line.startswith("# TYPE"))
    assert [name for name, n in types.items() if n > 1] == []
