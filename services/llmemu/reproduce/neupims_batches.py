"""Throughput of a steady-state decode batch, NeuPIMs' own measure (papers.md 3.3).

NeuPIMs does not simulate a serving run: its trace generator (trace-generator/
get_distributions.py) keeps `batch` requests sampled from the dataset in flight, each adding one
token per iteration and replaced when done, and after a warm-up writes ten snapshots of the
batch's sequence lengths; the simulator (src/client/Client.cc: output_size = 1) prices one
decode iteration of each. Throughput is tokens of that iteration per second.

Requests stay in the batch for as many iterations as they generate, so a snapshot is weighted
by output length: contexts run much longer than input + output / 2 at the published means
(ShareGPT 80/296 gives 228, Alpaca 12/56 gives 40). STEADY_CONTEXT is the mean sequence length
of the authors' own snapshots. An iteration is priced by the emulator's cost path as a batch of
that many decodes over that many tokens in total, or, given `contexts` (neupims_contexts), over
each request's own context, so that a PIM's channel placement shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from llmemu.core.catalog import load_system
from llmemu.core.errors import CapacityError
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model

STEADY_CONTEXT = {"sharegpt": 306.4, "alpaca": 61.5}
"""Mean sequence length in the authors' batch snapshots (datasets/dataset-generator/traces in
the orbizzz/NeuPIMs mirror, GPT-3 7B, TP 4, channel load balancing): ShareGPT 333,400 tokens
over 1,088 requests (bs512 snapshots 0 and 5: 314.0 and 300.9; bs64 snapshot 0: 290.2);
Alpaca 70,802 over 1,152 (bs512 0 and 5: 62.4 and 60.6; bs128 0: 61.0)."""


@dataclass(frozen=True)
class Batch:
    """One decode iteration of one configuration."""

    model: str
    system: str
    routing: str = "xpu-only"
    batching: str = "continuous"
    sub_batches: int = 1
    batch: int = 64
    context: float = STEADY_CONTEXT["sharegpt"]
    """Mean tokens each request attends to."""
    contexts: tuple[int, ...] | None = None
    """Each request's context (neupims_contexts); when given, `batch` and `context` follow
    from it, and a PIM places the requests on its channels."""
    pipeline_stages: int = 1
    """One stage (layers / stages) runs the whole batch, as the authors' traces do (a 175B
    snapshot of batch 128 puts all 128 requests on one device's 32 channels); with a batch in
    every stage, the stage's throughput is the pipeline's."""
    ideal: bool = False


def throughput(point: Batch) -> float:
    """Tokens per second of the iteration; NaN when weights or KV cache do not fit."""
    model = load_model(point.model)
    stages = point.pipeline_stages
    if stages > 1:
        model = model.model_copy(
            update={"num_layers": model.num_layers // stages, "name": f"{model.name} (1/{stages})"}
        )
    n = len(point.contexts) if point.contexts is not None else point.batch
    policy = PolicySpec(
        routing=point.routing,
        batching=point.batching,
        sub_batches=point.sub_batches,
        max_num_seqs=n,
        max_num_batched_tokens=n,  # a decode-only iteration: one token per request
    )
    context = sum(point.contexts) if point.contexts is not None else round(n * point.context)
    try:
        replica = build_replica(model, load_system(point.system), policy, ideal=point.ideal)
    except CapacityError:
        return math.nan
    if context * replica.memory.kv_bytes_per_token > replica.memory.kv_bytes:
        return math.nan
    shape = BatchShape(
        num_decode=n, decode_context=context, num_logits=n, decode_contexts=point.contexts
    )
    return n / replica.engine.pricer.price(shape).duration_s


def throughputs(points: Sequence[Batch], jobs: int = 1) -> list[float]:
    """Throughput of every point, in order; `jobs` > 1 spreads them over processes."""
    if jobs <= 1 or len(points) <= 1:
        return [throughput(p) for p in points]
    with ProcessPoolExecutor(max_workers=min(jobs, len(points))) as pool:
        return list(pool.map(throughput, points, chunksize=4))
