"""The edge model behind RemotePlanPricer (the distributed edge replica): device workers that
agree with the cost model leave a token's time unchanged; workers twice as slow double it."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.ops import BatchShape
from llmemu.core.remote_pricing import RemotePlanPricer
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_remote_workers_scale_the_sliding_window_schedule(scale):
    model, system = load_model("llama-2-7b"), load_system("edge-klonet-4")
    policy = PolicySpec(batching="edge", allreduce="star", memory_window=2, max_num_seqs=1)
    inner = build_replica(model, system, policy).engine.pricer

    def execute(by_processor):
        return {
            p: [inner.pricer.time(op, p) * scale for op, _ in ops]
            for p, ops in by_processor.items()
        }

    token = BatchShape(num_decode=1, decode_context=100, num_logits=1)
    local = inner.price(token)
    remote = RemotePlanPricer(inner, execute).price(token)
    assert remote.duration_s == pytest.approx(scale * local.duration_s, rel=1e-9)
    # Busy time is the policy's own (overlapped ops share a device), scaled alike: never
    # more than the iteration (TP devices run in lockstep).
    for proc, work in remote.work.items():
        assert work.busy_s == pytest.approx(scale * local.work[proc].busy_s, rel=1e-9)
        assert work.busy_s <= remote.duration_s * (1 + 1e-9)
