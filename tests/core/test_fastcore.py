"""The compiled loop (core/_fastcore.c) against the Python engine it transcribes.

Each scenario runs twice on fresh replicas, `compiled=False` (the reference) and the
compiled loop, and every number of the run must agree: the summary (floats to 1e-12
relative, everything else exactly), each finished request's log row exactly, the busy series,
the work per processor and the KV peak. The scenarios take every branch of the loop: fused
decode runs cut by arrivals and by the KV cache, chunked prompts, the reference walk under
KV shortage with preemption, a closed loop, requests refused at arrival, one-token outputs,
full sequence slots, host time of an engine profile, tensor parallelism, an MoE model with
experts spread evenly, a device that charges attention per request, FP8 weights.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmemu.core import fastcore
from llmemu.core.catalog import load_system
from llmemu.core.replica import build_replica
from llmemu.core.request_log import COUNTS, FIELDS
from llmemu.core.results import summarize
from llmemu.core.scenario import PolicySpec
from llmemu.core.simulate import Workload, run
from llmemu.core.specs.loading import load_model


def _open(n: int, seed: int, rate: float, prompt=(50, 1500), output=(1, 400)) -> Workload:
    rng = np.random.default_rng(seed)
    return Workload(
        inputs=rng.integers(*prompt, n),
        outputs=rng.integers(*output, n),
        arrivals=np.cumsum(rng.exponential(1 / rate, n)),
    )


def _burst(n: int, prompt: int, output: int) -> Workload:
    return Workload(np.full(n, prompt), np.full(n, output), np.zeros(n))


def _closed(n: int, concurrency: int, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    return Workload(rng.integers(20, 900, n), rng.integers(1, 200, n), None, concurrency)


CASES = {
    "poisson": ("llama-3-8b", "h100x1", {}, None, _open(300, 1, 30)),
    "chunked prompts": (
        "llama-3-8b", "h100x1", {"max_num_batched_tokens": 256}, None, _open(120, 2, 20)
    ),
    "preemption": ("llama-3-8b", "h100x1", {"max_num_seqs": 64}, 0.24, _burst(40, 1500, 400)),
    "preemption, chunked": (
        "llama-3-8b", "h100x1", {"max_num_batched_tokens": 512}, 0.24, _open(80, 3, 50, (100, 3000))
    ),
    "closed loop": ("llama-3-8b", "h100x1", {}, None, _closed(200, 12, 4)),
    "refused and one-token": (
        "llama-3-8b", "h100x1", {}, 0.24, _open(100, 5, 40, (1, 90000), (1, 3))
    ),
    "full slots": ("llama-3-8b", "h100x1", {"max_num_seqs": 4}, None, _open(60, 6, 40)),
    "no fusing": ("llama-3-8b", "h100x1", {"fuse_iterations": False}, None, _open(80, 7, 30)),
    "vllm host time, TP 8": ("llama-2-70b", "a100x8", {"engine": "vllm"}, None, _open(150, 8, 10)),
    "moe balanced": (
        "mixtral-8x7b", "h100x4", {"expert_routing": "balanced"}, None, _open(100, 9, 20)
    ),
    "per-request attention": ("llama-3-8b", "npu-only", {}, None, _open(60, 10, 5)),
    # Prompts of no tokens (materialise leaves them at max_context 1) are chunks all the same.
    "empty prompts": (
        "llama-3-8b", "h100x1", {"max_num_seqs": 2}, None,
        Workload(np.array([100, 0, 5, 0, 0]), np.array([50, 5, 1, 3, 40]),
                 np.array([0.0, 0.05, 0.06, 0.07, 0.07])),
    ),
    # Columns of wider arrays (a lengths table's), not contiguous in memory.
    "strided columns": ("llama-3-8b", "h100x1", {}, None, Workload(
        np.tile([300, 20], (40, 1))[:, 0], np.tile([300, 20], (40, 1))[:, 1],
        np.stack([np.arange(40) * 0.01, np.zeros(40)], axis=1)[:, 0],
    )),
}  # fmt: skip


def _run(model, system, options, memory, workload, compiled):
    spec = load_system(system)
    if memory is not None:
        spec = spec.model_copy(update={"memory_utilization": memory})
    replica = build_replica(load_model(model), spec, PolicySpec(**options))
    # Not built is a failure here: `pip install -e .` builds it wherever gcc and the Python
    # headers are, as on the machines the README's set-up names.
    assert fastcore.why_not(replica) is None
    if compiled:
        return fastcore.run(replica, workload)
    return run(replica, workload, keep_requests=False, compiled=False)


def _differences(got, want, path="") -> list[str]:
    if isinstance(want, dict):
        if got.keys() != want.keys():
            return [f"{path}: keys {sorted(got.keys() ^ want.keys())}"]
        return [d for k in want for d in _differences(got[k], want[k], f"{path}.{k}")]
    if isinstance(want, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items, want {len(want)}"]
        pairs = enumerate(zip(got, want, strict=True))
        return [d for i, (g, w) in pairs for d in _differences(g, w, f"{path}[{i}]")]
    if isinstance(want, float) and isinstance(got, float):
        same = got == pytest.approx(want, rel=1e-12, abs=1e-300)
    else:
        same = got == want
    return [] if same else [f"{path}: {got!r} != {want!r}"]


@pytest.mark.parametrize("case", CASES)
def test_the_compiled_loop_gives_the_python_engines_numbers(case):
    model, system, options, memory, workload = CASES[case]
    want = _run(model, system, options, memory, workload, compiled=False)
    got = _run(model, system, options, memory, workload, compiled=True)
    assert _differences(summarize(got, 0.0), summarize(want, 0.0)) == []
    for name in (*FIELDS, *COUNTS):
        assert np.array_equal(got.log.column(name), want.log.column(name)), name
    assert got.rejected == want.rejected
    assert got.recorder.steps == want.recorder.steps
    busy = got.recorder.busy.to_dict(got.simulated_s)
    assert _differences(busy, want.recorder.busy.to_dict(want.simulated_s)) == []
    fields = ("busy_s", "flops", "bytes", "write_bytes", "ops_by_kind")
    for name, w in want.recorder.work.items():
        g = got.recorder.work[name]
        assert _differences(*({f: getattr(x, f) for f in fields} for x in (g, w))) == []
    kv_got, kv_want = got.replica.engine.kv, want.replica.engine.kv
    assert kv_got.peak_used_blocks == kv_want.peak_used_blocks


def test_the_cases_take_the_branches_they_name():
    """The scenarios above are only worth their names if the reference run shows them."""
    named = ("preemption", "refused and one-token", "closed loop")
    runs = {case: _run(*CASES[case], compiled=False) for case in named}
    assert runs["preemption"].recorder.preemptions > 0
    refused = runs["refused and one-token"]
    assert refused.rejected and len(refused.log) + len(refused.rejected) == 100
    assert (refused.log.column("generated") == 1).any()
    assert len(runs["closed loop"].log) == 200


def test_replicas_the_loop_does_not_transcribe_run_in_python():
    model = load_model("llama-3-8b")
    system = load_system("h100x1")
    for policy, reason in (
        (PolicySpec(prefix_caching=True), "the KV cache caches prefixes"),
        (PolicySpec(batching="sequential"), "not priced by parts on one processor"),
        (PolicySpec(admission="projected-peak"), "admission is not greedy"),
    ):
        assert fastcore.why_not(build_replica(model, system, policy)) == reason
    moe = build_replica(load_model("mixtral-8x7b"), load_system("h100x4"), PolicySpec())
    assert fastcore.why_not(moe) == "expert routing is sampled"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    seqs=st.sampled_from([1, 3, 16, 256]),
    budget=st.sampled_from([64, 300, 2048, 8192]),
    block=st.sampled_from([1, 16, 32]),
    memory=st.sampled_from([None, 0.23, 0.3]),
    closed=st.booleans(),
)
def test_random_replicas_and_workloads_agree(seed, seqs, budget, block, memory, closed):
    """Drawn policies and workloads (arrival bursts, long prompts against small budgets and
    caches): the compiled loop's log and step counts are the reference's, exactly."""
    rng = np.random.default_rng(seed)
    n = 40
    inputs, outputs = rng.integers(0, 4000, n), rng.integers(1, 300, n)
    if closed:
        workload = Workload(inputs, outputs, None, int(rng.integers(1, 20)))
    else:
        workload = Workload(inputs, outputs, np.sort(rng.exponential(2.0, n) * rng.random(n)))
    options = {"max_num_seqs": seqs, "max_num_batched_tokens": budget, "block_size": block}
    case = ("llama-3-8b", "h100x1", options, memory, workload)
    want, got = _run(*case, compiled=False), _run(*case, compiled=True)
    for name in (*FIELDS, *COUNTS):
        assert np.array_equal(got.log.column(name), want.log.column(name)), name
    assert (got.recorder.steps, got.recorder.iterations, got.recorder.preemptions) == (
        want.recorder.steps,
        want.recorder.iterations,
        want.recorder.preemptions,
    )
    assert got.rejected == want.rejected and got.simulated_s == want.simulated_s
