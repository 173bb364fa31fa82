"""Closed-loop throughput of one configuration, and many of them over worker processes.

A point is `batch` users, each sending its next request when the last one finishes
(continuous batching with a batch of `batch`), for `waves` rounds of requests of fixed
lengths: Duplex's throughput setting (§VI closed loop; NeuPIMs measures steady-state decode
batches instead, see neupims_batches). Fixed lengths follow the Duplex authors' simulator,
where the Gaussian jitter is switched off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from llmemu.core.catalog import load_system
from llmemu.core.errors import CapacityError
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.simulate import materialise, run
from llmemu.core.specs.loading import load_model
from llmemu.core.workload import Closed, Constant, WorkloadSpec


@dataclass(frozen=True)
class Point:
    """One simulated configuration."""

    model: str
    system: str
    routing: str = "xpu-only"
    batching: str = "continuous"
    sub_batches: int = 1
    batch: int = 64
    """Users of the closed loop, and the scheduler's max_num_seqs."""
    input_tokens: int = 512
    output_tokens: int = 512
    waves: int = 2
    """Requests per user."""
    pipeline_stages: int = 1
    """Pipeline parallelism: one stage (layers / stages) is simulated at batch / stages, its
    micro-batch; in steady state every stage is busy, so the stage's throughput is the
    pipeline's."""
    seed: int = 0
    ideal: bool = False
    """Peak rates and no overheads on every processor."""


def throughput(point: Point) -> float:
    """Output tokens per second; NaN when the model does not fit the system."""
    model = load_model(point.model)
    stages = point.pipeline_stages
    if stages > 1:
        layers = model.num_layers // stages
        model = model.model_copy(
            update={"num_layers": layers, "name": f"{model.name} (pipeline stage 1/{stages})"}
        )
    batch = max(1, point.batch // stages)
    policy = PolicySpec(
        routing=point.routing,
        batching=point.batching,
        sub_batches=point.sub_batches,
        max_num_seqs=batch,
    )
    workload = WorkloadSpec(
        requests=batch * point.waves,
        arrival=Closed(kind="closed", concurrency=batch),
        input_tokens=Constant(kind="constant", value=point.input_tokens),
        output_tokens=Constant(kind="constant", value=point.output_tokens),
    )
    try:
        system = load_system(point.system)
        replica = build_replica(model, system, policy, seed=point.seed, ideal=point.ideal)
    except CapacityError:
        return math.nan
    drawn = materialise(workload, point.seed, max_context=model.max_context)
    result = run(replica, drawn, keep_requests=False)
    done = int(result.log.column("generated").sum())
    return done / result.simulated_s if result.simulated_s else math.nan


def throughputs(points: Sequence[Point], jobs: int = 1) -> list[float]:
    """Throughput of every point, in order; `jobs` > 1 spreads them over processes."""
    if jobs <= 1 or len(points) <= 1:
        return [throughput(p) for p in points]
    with ProcessPoolExecutor(max_workers=min(jobs, len(points))) as pool:
        return list(pool.map(throughput, points, chunksize=4))
