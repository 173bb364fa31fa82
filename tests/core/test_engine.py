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


# Sampled expert routing ("uniform") draws once per step, so it is left out: how many
# iterations a step fuses changes its random stream.
POLICIES = [
    ("llama-3-8b", "h100x1", {}),
    ("mixtral-8x7b", "h100x4", {"expert_routing": "balanced"}),
    ("llama-3-8b", "h100x1", {"batching": "sequential"}),
    ("llama-3-8b", "duplex", {"routing": "opb"}),
    ("llama-3-8b", "neupims", {"batching": "sub-batch-interleave", "sub_batches": 2}),
    ("llama-2-7b", "edge-klonet-4", {"batching": "edge", "allreduce": "star", "max_num_seqs": 2}),
    ("llama-2-7b", "a100x8-nvlink", {"batching": "nanoflow", "max_num_batched_tokens": 1024}),
]


def _simulate(model, system, options, *, fuse=True, reference=False, wl=None, memory=None):
    policy = PolicySpec(fuse_iterations=fuse, **options)
    spec = load_system(system)
    if memory is not None:
        spec = spec.model_copy(update={"memory_utilization": memory})
    replica = build_replica(load_model(model), spec, policy)
    if reference:  # every iteration walks every running request (Scheduler.schedule)
        replica.engine.scheduler.schedule_fast = lambda **_: None
    return run(replica, _workload() if wl is None else wl)


def _same(a, b):
    assert a.recorder.iterations == b.recorder.iterations
    assert a.recorder.preemptions == b.recorder.preemptions
    assert a.simulated_s == pytest.approx(b.simulated_s, rel=1e-9)
    # The KV peak too: a fused run takes every iteration's blocks before anyone finishes.
    assert a.replica.engine.kv.peak_used_blocks == b.replica.engine.kv.peak_used_blocks
    for x, y in zip(a.requests, b.requests, strict=True):
        assert x.generated == y.generated
        assert x.first_token_s == pytest.approx(y.first_token_s, rel=1e-9)
        assert x.finish_s == pytest.approx(y.finish_s, rel=1e-9)
        assert x.first_scheduled_s == pytest.approx(y.first_scheduled_s, rel=1e-9)


@pytest.mark.parametrize("model,system,options", POLICIES)
def test_fused_aggregate_steps_give_the_results_of_single_reference_iterations(
    model, system, options
):
    """The fast engine (aggregate decoders, fused runs) against one iteration per step
    where every iteration walks every request, under every batching policy and MoE."""
    wl = _workload(n=30) if options.get("batching") in ("edge", "nanoflow") else None
    fused = _simulate(model, system, options, wl=wl)
    single = _simulate(model, system, options, fuse=False, reference=True, wl=wl)
    _same(fused, single)
    assert fused.recorder.steps <= single.recorder.steps


def test_aggregate_engine_matches_the_reference_under_preemption():
    # 40 prompts of 1500 tokens with 400 outputs at 24 % memory: the KV cache overflows, so
    # the aggregate path hands iterations over to the reference walk and back.
    wl = Workload(inputs=np.full(40, 1500), outputs=np.full(40, 400), arrivals=np.zeros(40))
    options = {"max_num_seqs": 64}
    fast = _simulate("llama-3-8b", "h100x1", options, wl=wl, memory=0.24)
    reference = _simulate("llama-3-8b", "h100x1", options, reference=True, wl=wl, memory=0.24)
    assert fast.recorder.preemptions > 0
    _same(fast, reference)
    assert fast.replica.engine.kv.peak_used_blocks == reference.replica.engine.kv.peak_used_blocks


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
