"""The offline runs behind `llmemu reproduce nanoflow`: LLaMA-2-70B on a DGX A100 (TP 8),
every request queued at once, constant lengths, a 2048-token dense batch.

Throughput is (prompt + generated) tokens per second per GPU in the run's steady phase
(`offline`): the paper runs 100,000 requests (datasets/utils/gen_const_len_req.py), so
its ramp-up and drain are negligible, and a shorter run measured between them gives the
same rate. A `tuned` run first searches a pipeline for the batches the workload's run
forms (tune.py; NanoFlow searches its pipeline per model and setting too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from llmemu.core.catalog import load_system
from llmemu.core.memory import activation_bytes
from llmemu.core.nanoflow.tune import as_options, tune
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model
from llmemu.core.specs.model import kv_bytes_per_token, weight_bytes

MODEL = "llama-2-70b"
SYSTEM = "a100x8-nvlink"
DENSE_TOKENS = 2048  # pipeline/config_all/llama2-70B/2048.json global_batch_size
MAX_NUM_SEQS = 2048  # same file, max_batch_size
KV_POOL_TOKENS = 1480 * 1024
"""NanoFlow's KV pool: pages for `allocate_kv_data_batch` = 1480 requests (same file) of
1024 tokens (pipeline/src/load_config.cu allocateKVData: seqlen 1024), 497 GB: with the
weights it fills 99 % of the 8 GPUs, where vLLM's rule would leave 10 % unused."""


def nanoflow_system(model, policy):
    """The a100x8 system with NanoFlow's KV pool instead of vLLM's 90 % memory rule."""
    system = load_system(SYSTEM)
    raw = system.memory_capacity_bytes / system.memory_utilization
    needed = (
        weight_bytes(model)
        + activation_bytes(model, policy)
        + KV_POOL_TOKENS * kv_bytes_per_token(model)
    )
    return system.model_copy(update={"memory_utilization": min(1.0, needed / raw)})


@dataclass(frozen=True)
class Run:
    batching: str
    input_tokens: int
    output_tokens: int
    requests: int
    tuned: bool = False
    overlap: bool = True
    evaluations: int = 2000
    nanoflow_kv_pool: bool = True
    """KV capacity of NanoFlow's deployment (KV_POOL_TOKENS); False: the preset's."""


@dataclass(frozen=True)
class Measured:
    tokens_per_s_per_gpu: float
    preemptions: int
    predicted_tokens_per_s_per_gpu: float | None = None
    """The search's prediction: the tuned pipeline on the run's batch mix."""
    predicted_sequential: float | None = None
    """`sequential` on that mix, tokens/s/GPU."""
    options: dict | None = None


def measure(r: Run) -> Measured:
    model = load_model(MODEL)
    policy = PolicySpec(
        batching=r.batching,
        max_num_batched_tokens=DENSE_TOKENS,
        max_num_seqs=MAX_NUM_SEQS,
        # NanoFlow's runtime admits only what its pool holds to the end (serve_8B.py), for
        # its pipeline and its non-overlap engine alike; the preset's rows stay vLLM's.
        admission="projected-peak" if r.nanoflow_kv_pool else "greedy",
    )
    system = nanoflow_system(model, policy) if r.nanoflow_kv_pool else load_system(SYSTEM)
    predicted = predicted_sequential = None
    options: dict = {}
    if r.tuned:
        found = tune(
            model, system, policy, r.input_tokens, r.output_tokens,
            max_evaluations=r.evaluations,
        )  # fmt: skip
        options = as_options(found.spec)
        predicted = found.tokens_per_s_per_device(found.iteration_s)
        predicted_sequential = found.tokens_per_s_per_device(found.sequential_s)
    if not r.overlap:
        options["overlap"] = False
    policy = policy.model_copy(update={"options": options})
    engine = build_replica(model, system, policy).engine
    rate, preemptions = offline(engine, r.requests, r.input_tokens, r.output_tokens)
    return Measured(
        rate / system.tensor_parallel,
        preemptions,
        predicted,
        predicted_sequential,
        options or None,
    )


def offline(engine, requests: int, input_tokens: int, output_tokens: int) -> tuple[float, int]:
    """(useful tokens per second in the steady phase, preemptions) of a burst of requests.

    The steady phase runs from the first completion (the decode population has reached
    its mix) while requests still wait (then the batch drains). Useful tokens are those
    the iterations compute minus the work preemption throws away (recomputed later)."""
    for _ in range(requests):
        engine.new_request(0.0, input_tokens, output_tokens)
    computed: dict[int, int] = {}
    now, tokens, seconds, preemptions, finished = 0.0, 0.0, 0.0, 0, False
    while engine.has_work():
        step = engine.step(now)
        entries = step.scheduled.entries
        done = (
            sum(n for _, n in entries) if step.iterations == 1 else len(entries) * step.iterations
        )
        lost = sum(computed.pop(victim.id, 0) for victim in step.scheduled.preempted)
        preemptions += len(step.scheduled.preempted)
        if finished and engine.scheduler.waiting:
            tokens += done - lost
            seconds += step.duration_s
        finished = finished or bool(step.finished)
        for req, _ in entries:
            computed[req.id] = req.computed
        now += step.duration_s
    return (tokens / seconds if seconds else math.nan), preemptions


def measure_all(runs: Sequence[Run], jobs: int = 1) -> list[Measured]:
    if jobs <= 1 or len(runs) <= 1:
        return [measure(r) for r in runs]
    with ProcessPoolExecutor(max_workers=min(jobs, len(runs))) as pool:
        return list(pool.map(measure, runs))
