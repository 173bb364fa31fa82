"""RemotePlanPricer: executors (device workers) own the op times; one call per iteration."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.nanoflow.steady import steady_batch
from llmemu.core.ops import BatchShape
from llmemu.core.remote_pricing import RemotePlanPricer
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model

DECODE = BatchShape(num_decode=1, decode_context=100, num_logits=1)


def _replica(system="h100x1", **policy):
    return build_replica(load_model("llama-3-8b"), load_system(system), PolicySpec(**policy))


def _executor(pricer, scale=1.0, calls=None):
    def execute(by_proc):
        if calls is not None:
            calls.append({p: len(ops) for p, ops in by_proc.items()})
        return {p: [pricer.time(op, p) * scale for op, _ in ops] for p, ops in by_proc.items()}

    return execute


def test_same_cost_model_gives_the_embedded_duration():
    replica = _replica()
    inner = replica.engine.pricer
    embedded = inner.price(DECODE)
    remote = RemotePlanPricer(inner, _executor(inner.pricer)).price(DECODE)
    assert remote.duration_s == pytest.approx(embedded.duration_s, rel=1e-12)
    assert remote.work["h100"].busy_s == pytest.approx(embedded.work["h100"].busy_s, rel=1e-12)


def test_executor_times_are_the_authority():
    """A worker whose device is twice as slow on every op: on one processor the `stages`
    timeline is the sum of op times x layers, so the iteration takes exactly twice as long,
    and the busy time the worker reports doubles with it."""
    replica = _replica()
    inner = replica.engine.pricer
    embedded = inner.price(DECODE)
    remote = RemotePlanPricer(inner, _executor(inner.pricer, scale=2.0)).price(DECODE)
    assert remote.duration_s == pytest.approx(2 * embedded.duration_s, rel=1e-12)
    assert remote.work["h100"].busy_s == pytest.approx(2 * embedded.work["h100"].busy_s)


def test_one_call_per_iteration_with_every_op_of_each_processor():
    """Llama-3-8B on one H100, decode only: 32 layers of qkv, attn_decode, o_proj, gate_up,
    down (attn_prefill is absent without prefill chunks) plus the LM head: the plan has
    5 ops in the layer block and 1 in the head block, all on the h100, sent in one call."""
    replica = _replica()
    calls: list[dict[str, int]] = []
    inner = replica.engine.pricer
    remote = RemotePlanPricer(inner, _executor(inner.pricer, calls=calls))
    remote.price(DECODE)
    assert calls == [{"h100": 6}]


def test_engine_steps_through_the_remote_pricer():
    replica = _replica(fuse_iterations=False)
    inner = replica.engine.pricer
    calls: list[dict[str, int]] = []
    replica.engine.pricer = RemotePlanPricer(inner, _executor(inner.pricer, calls=calls))
    replica.engine.new_request(0.0, 100, 3)
    steps = 0
    while replica.engine.has_work():
        assert replica.engine.step(0.0) is not None
        steps += 1
    # One prefill iteration (first token) and two decodes: three calls, one per iteration.
    assert steps == 3 and len(calls) == 3


def test_wrong_answer_from_an_executor_names_the_processor():
    replica = _replica()
    remote = RemotePlanPricer(replica.engine.pricer, lambda by_proc: {"h100": [1.0]})
    with pytest.raises(ValueError, match="'h100' answered 1 times for 6 ops"):
        remote.price(DECODE)


OWN_SCHEDULES = {
    # NanoFlow's pipeline overlaps a steady 2048-token batch's ops on each A100.
    "nanoflow": ("llama-2-70b", "a100x8-nvlink",
                 PolicySpec(batching="nanoflow", max_num_batched_tokens=2048, max_num_seqs=2048),
                 steady_batch(2048, 512, 512, 2048)),
    # The edge model streams a token's weights through a window of 2 blocks from disk.
    "edge": ("llama-2-7b", "edge-klonet-4",
             PolicySpec(batching="edge", allreduce="star", memory_window=2, max_num_seqs=1),
             DECODE),
}  # fmt: skip


@pytest.mark.parametrize("scale", [1.0, 2.0])
@pytest.mark.parametrize("name", OWN_SCHEDULES)
def test_a_policys_own_schedule_scales_with_the_executors(name, scale):
    # Executors that agree with the cost model leave the iteration unchanged; twice as slow
    # on every op, it takes twice as long.
    model, system, policy, batch = OWN_SCHEDULES[name]
    inner = build_replica(load_model(model), load_system(system), policy).engine.pricer
    local = inner.price(batch)
    remote = RemotePlanPricer(inner, _executor(inner.pricer, scale)).price(batch)
    assert remote.duration_s == pytest.approx(scale * local.duration_s, rel=1e-9)
    # Busy time is the policy's own (overlapped ops share a device), scaled alike: never
    # more than the iteration (TP devices run in lockstep).
    for proc, work in remote.work.items():
        assert work.busy_s == pytest.approx(scale * local.work[proc].busy_s, rel=1e-9)
        assert work.busy_s <= remote.duration_s * (1 + 1e-9)
