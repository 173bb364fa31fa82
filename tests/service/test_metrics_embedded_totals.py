"""The embedded server exports what the distributed nodes do: process_* series and the per-op
FLOPs and bytes counters (one definition, in LlmemuMetrics)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import in_process, make_app, sample

pytestmark = pytest.mark.anyio
OUTPUT = 5


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_op_flops_and_bytes_and_process_series():
    body = {"prompt": " the" * 100, "max_tokens": OUTPUT, "ignore_eos": True}
    async with in_process(make_app()) as c:
        await c.post("/v1/completions", json=body)
        text = (await c.get("/metrics")).text
    # llama-3-8b (hidden 4096, vocabulary 128256, bf16) on one H100: one logit per
    # iteration, five iterations, the LM head is a 1 x 4096 x 128256 GEMM
    head = {"op": "lm_head", "processor": "h100"}
    assert sample(text, "llmemu_op_flops_total", **head) == OUTPUT * 2 * 4096 * 128256
    one = (1 * 4096 + 4096 * 128256 + 1 * 128256) * 2  # input, weights, output; 2 bytes each
    assert sample(text, "llmemu_op_bytes_total", **head) == OUTPUT * one
    # the per-op FLOPs add up to the processor's
    assert sample(text, "llmemu_op_flops_total") == pytest.approx(
        sample(text, "llmemu_device_flops_total"), rel=1e-12
    )
    names = {f.name for f in text_string_to_metric_families(text)}
    for name in ("process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds",
                 "process_start_time_seconds", "python_info"):  # fmt: skip
        assert name in names, name
