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
    local = inner.price(batch)
    remote = RemotePlanPricer(inner, execute).price(batch)
    assert remote.duration_s == pytest.approx(scale * local.duration_s, rel=1e-9)
    # Busy time is the policy's own (overlapped ops share a device), scaled alike: never
    # more than the iteration (TP devices run in lockstep).
    for proc, work in remote.work.items():
        assert work.busy_s == pytest.approx(scale * local.work[proc].busy_s, rel=1e-9)
        assert work.busy_s <= remote.duration_s * (1 + 1e-9)
