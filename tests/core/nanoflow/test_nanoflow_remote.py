"""NanoFlow behind RemotePlanPricer: executors that agree with the cost model leave the
iteration unchanged; executors twice as slow on every op double it."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.nanoflow.steady import steady_batch
from llmemu.core.remote_pricing import RemotePlanPricer
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_remote_executors_scale_the_pipeline(scale):
    model, system = load_model("llama-2-70b"), load_system("a100x8-nvlink")
    policy = PolicySpec(batching="nanoflow", max_num_batched_tokens=2048, max_num_seqs=2048)
    inner = build_replica(model, system, policy).engine.pricer

    def execute(by_processor):
        return {
            p: [inner.pricer.time(op, p) * scale for op, _ in ops]
            for p, ops in by_processor.items()
        }

    batch = steady_batch(2048, 512, 512, 2048)
    local = inner.price(batch).duration_s
    remote = RemotePlanPricer(inner, execute).price(batch).duration_s
    assert remote == pytest.approx(scale * local, rel=1e-9)
