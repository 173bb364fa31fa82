"""The engine against hand-computed times, and its invariants."""

from __future__ import annotations

import numpy as np
import pytest

from llmemu.core.catalog import load_system
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.simulate import Workload, run
from llmemu.core.specs.loading import load_model
from llmemu.core.specs.model import weight_bytes


def test_single_decode_is_a_full_weight_read():
    """Batch-1 decode is memory-bound: every weight but the input embedding (one row is
    looked up) is read once per token. Llama-3-8B has 8.03e9 parameters = 16.06 GB in FP16,
    of which the embedding is 128256 * 4096 * 2 B = 1.05 GB; at H100's 3.352 TB/s (ideal)
    that is (16.06 - 1.05) GB / 3.352e12 B/s = 4.48 ms, plus a few KB of KV."""
    model, system = load_model("llama-3-8b"), load_system("h100x1")
    replica = build_replica(model, system, PolicySpec(), ideal=True)
    cost = replica.engine.pricer.price(BatchShape(num_decode=1, decode_context=100, num_logits=1))
    assert weight_bytes(model) == pytest.approx(16.06e9, rel=0.001)
    assert cost.duration_s == pytest.approx(4.48e-3, rel=0.01)


def test_large_prefill_is_compute_bound():
    """A 4096-token prompt of Llama-3-8B: 2 FLOPs per layer weight per token, with
    8.03e9 - 2 * 0.525e9 (embedding and LM head) = 6.98e9 layer weights:
    2 * 6.98e9 * 4096 = 5.72e13 FLOPs; causal attention adds 4 * 4096 (query width) *
    4096*4097/2 (query-key pairs) * 32 layers = 4.4e12; the LM head of one token 1e9.
    At 989.4 TFLOP/s ideal: 6.16e13 / 989.4e12 = 62.3 ms."""
    model, system = load_model("llama-3-8b"), load_system("h100x1")
    replica = build_replica(model, system, PolicySpec(), ideal=True)
    cost = replica.engine.pricer.price(BatchShape(prefill_chunks=((4096, 0),), num_logits=1))
    assert cost.duration_s == pytest.approx(0.0623, rel=0.01)


def _workload(n=60, seed=1):
    rng = np.random.default_rng(seed)
    return Workload(
        inputs=rng.integers(50, 400, n),
        outputs=rng.integers(5, 300, n),
        arrivals=np.cumsum(rng.exponential(0.05, n)),
    )


@pytest.mark.parametrize("model,system", [("llama-3-8b", "h100x1"), ("mixtral-8x7b", "h100x4")])
def test_fused_decode_runs_give_the_same_results_as_single_iterations(model, system):
    results = []
    for fuse in (True, False):
        policy = PolicySpec(fuse_iterations=fuse, expert_routing="balanced")
        replica = build_replica(load_model(model), load_system(system), policy)
        sim = run(replica, _workload())
        results.append(sim)
    fused, single = results
    assert fused.recorder.iterations == single.recorder.iterations
    assert fused.recorder.steps < single.recorder.steps
    assert fused.simulated_s == pytest.approx(single.simulated_s, rel=1e-9)
    for a, b in zip(fused.requests, single.requests, strict=True):
        assert a.first_token_s == pytest.approx(b.first_token_s, rel=1e-9)
        assert a.finish_s == pytest.approx(b.finish_s, rel=1e-9)


def test_every_request_finishes_with_its_tokens_even_under_preemption():
    # A tight memory utilisation leaves room for few KV blocks: preemption must happen.
    policy = PolicySpec(max_num_seqs=64)
    system = load_system("h100x1").model_copy(update={"memory_utilization": 0.24})
    replica = build_replica(load_model("llama-3-8b"), system, policy)
    wl = Workload(inputs=np.full(40, 1500), outputs=np.full(40, 400), arrivals=np.zeros(40))
    sim = run(replica, wl)
    assert sim.recorder.preemptions > 0
    assert all(r.generated == 400 for r in sim.requests)
    assert replica.engine.kv.free_blocks == replica.engine.kv.num_blocks
