"""Automatic pipeline search: nano-batch count and sizes, finer KQV/attention pieces, the
order lanes pick ready ops in, and each op's share, for the batches a run forms (a
BatchMix: each representative batch weighted by its share of the iterations).

NanoFlow solves two MILPs (§4.1): stage I picks the number, sizes and order of nano-ops
without interference, stage II assigns shares with P(R). Here all of it is searched
together on the emulated iteration time itself (overlap.py's timeline, so interference is
included): coordinate descent from the paper's pipeline, then from seeded random pipelines,
until `max_evaluations` are spent or `stop()` (the caller's clock: the core reads none)
says so (SEARCH_LAYERS says how each is timed). Partitions are every cut of the
dense batch into 2-4 multiples of 128 tokens (§4.1: sizes are multiples of 128); shares
are multiples of 0.1. The same seed and evaluation budget give the same answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from itertools import combinations

from llmemu.core.cost import Pricer
from llmemu.core.nanoflow.overlap import REST
from llmemu.core.nanoflow.pipeline import time_pipeline
from llmemu.core.nanoflow.spec import ORDERS, PipelineSpec, paper_pipeline
from llmemu.core.nanoflow.steady import BatchMix
from llmemu.core.planner import plan_iteration
from llmemu.core.routing import Router
from llmemu.core.specs.model import ModelSpec

GRANULARITY_TOKENS = 128
SEARCH_LAYERS = 16
"""Layers a candidate is scheduled on at most (a schedule that has not settled by then is
extrapolated from its last layers, within a few % of the full schedule); the RECHECKED
fastest are then timed on every layer and the fastest of those wins."""
RECHECKED = 20
SHARE_STEPS = (REST, *(round(0.1 * i, 1) for i in range(1, 11)))
ATTENTION_OPS = ("qkv", "attn_decode", "attn_prefill")
SHARED_OPS = ("qkv", "attn_decode", "attn_prefill", "o_proj", "router", "experts")
SHARED_OPS += ("gate_up", "down", "allreduce")


@dataclass(frozen=True, slots=True)
class SearchResult:
    spec: PipelineSpec
    iteration_s: float
    evaluated: int


def partitions(dense_tokens: int, max_pieces: int = 4) -> list[tuple[int, ...]]:
    """Every cut of the dense batch into 2..max_pieces pieces at multiples of 128 tokens
    (the remainder of a batch that is not a multiple goes to the last piece)."""
    units = dense_tokens // GRANULARITY_TOKENS
    out = []
    for pieces in range(2, max_pieces + 1):
        for cuts in combinations(range(1, units), pieces - 1):
            edges = [0, *(c * GRANULARITY_TOKENS for c in cuts), dense_tokens]
            out.append(tuple(b - a for a, b in zip(edges, edges[1:], strict=False)))
    return out


def halves(sizes: tuple[int, ...]) -> tuple[int, ...]:
    """Each piece cut in two at a multiple of 128 (NanoFlow cuts KQV and decode attention
    finer than the rest so that attention starts sooner); pieces too small stay whole."""
    out: list[int] = []
    for size in sizes:
        first = (size // 2) // GRANULARITY_TOKENS * GRANULARITY_TOKENS
        out.extend((first, size - first) if first else (size,))
    return tuple(out)


def with_split(spec: PipelineSpec, nano: tuple[int, ...], finer: bool) -> PipelineSpec:
    splits = tuple((name, halves(nano)) for name in ATTENTION_OPS) if finer else ()
    return replace(spec, nano_tokens=nano, splits=splits)


def with_share(spec: PipelineSpec, name: str, share: float) -> PipelineSpec:
    shares = dict(spec.shares)
    shares[name] = (share,)
    return replace(spec, shares=tuple(sorted(shares.items())))


def search_pipeline(
    model: ModelSpec,
    mix: BatchMix,
    dense_tokens: int,
    pricer: Pricer,
    router: Router,
    *,
    max_evaluations: int = 2000,
    stop: Callable[[], bool] = lambda: False,
    max_pieces: int = 4,
    seed: int = 0,
) -> SearchResult:
    """The pipeline (cuts of `dense_tokens`; a smaller batch is cut at the same fractions)
    with the least mean iteration time over `mix` found; `iteration_s` is that mean."""
    if not mix:
        raise ValueError("search_pipeline needs at least one batch to time")
    seen: dict[PipelineSpec, float] = {}

    def mean_s(spec: PipelineSpec, max_layers: int | None) -> float:
        return sum(
            weight * time_pipeline(model, batch, spec, pricer, router, max_layers=max_layers)
            .duration_s
            for batch, weight in mix
        )  # fmt: skip

    def cost(spec: PipelineSpec) -> float:
        if spec not in seen:
            seen[spec] = mean_s(spec, SEARCH_LAYERS)
        return seen[spec]

    def exhausted() -> bool:
        return len(seen) >= max_evaluations or stop()

    names = {op.name for batch, _ in mix for op in plan_iteration(model, batch, pricer.tp).ops()}
    present = [name for name in SHARED_OPS if name in names]
    cuts = partitions(dense_tokens, max_pieces)
    coordinates = [partial(_share_moves, name) for name in present]
    coordinates += [partial(_pair_moves, a, b) for a, b in combinations(present, 2)]
    coordinates += [_finer_moves, _order_moves, partial(_cut_moves, cuts)]
    cost(paper_pipeline(dense_tokens))
    for candidate in _class_grid(dense_tokens, present):
        if exhausted():
            break
        cost(candidate)
    start = min(seen, key=seen.__getitem__)
    rng = random.Random(seed)
    while not exhausted():
        _descend(start, cost(start), coordinates, cost, exhausted)
        start = _random_spec(rng, cuts, present, dense_tokens)
    best, best_s = min(
        ((spec, mean_s(spec, None)) for spec in sorted(seen, key=seen.__getitem__)[:RECHECKED]),
        key=lambda pair: pair[1],
    )  # fmt: skip
    return SearchResult(best, best_s, len(seen))


# Stage I: one share per resource class on a few cuts; stage II refines op by op.
GRID_COMPUTE = (REST,)
GRID_MEMORY = (0.1, 0.2, 0.3, 0.4, 0.6, 0.8)
GRID_NETWORK = (0.1, 0.2, 0.3, 0.4)
GRID_CUTS = ((1, 1), (5, 11), (1, 1, 1, 1))
"""Fractions of the dense batch: halves, the paper's 640/1408, quarters."""


def _class_grid(dense_tokens: int, names: list[str]):
    for fractions in GRID_CUTS:
        nano = _cut(dense_tokens, fractions)
        for order in ORDERS:
            for finer in (False, True):
                base = with_split(PipelineSpec(dense_tokens, nano, order=order), nano, finer)
                for rc in GRID_COMPUTE:
                    for rm in GRID_MEMORY:
                        for rn in GRID_NETWORK:
                            yield _classed(base, names, rc, rm, rn)


def _cut(dense_tokens: int, fractions: tuple[int, ...]) -> tuple[int, ...]:
    unit = GRANULARITY_TOKENS
    edges, total, cum = [0], sum(fractions), 0
    for f in fractions[:-1]:
        cum += f
        edges.append(max(edges[-1] + unit, round(dense_tokens * cum / total / unit) * unit))
    edges.append(dense_tokens)
    return tuple(b - a for a, b in zip(edges, edges[1:], strict=False) if b > a)


def _classed(spec: PipelineSpec, names, compute: float, memory: float, network: float):
    classes = {"attn_decode": memory, "allreduce": network}
    shares = tuple(sorted((n, (classes.get(n, compute),)) for n in names))
    return replace(spec, shares=shares)


def _descend(best, best_s, coordinates, cost, exhausted) -> tuple[PipelineSpec, float]:
    improved = True
    while improved and not exhausted():
        improved = False
        for moves in coordinates:
            for candidate in moves(best):
                if exhausted():
                    return best, best_s
                seconds = cost(candidate)
                if seconds < best_s * (1 - 1e-9):
                    best, best_s, improved = candidate, seconds, True
    return best, best_s


def _random_spec(rng: random.Random, cuts, names, dense_tokens: int) -> PipelineSpec:
    spec = PipelineSpec(dense_tokens, rng.choice(cuts), order=rng.choice(ORDERS))
    spec = with_split(spec, spec.nano_tokens, rng.random() < 0.5)
    for name in names:
        spec = with_share(spec, name, rng.choice(SHARE_STEPS))
    return spec


def _share_moves(name: str, spec: PipelineSpec) -> list[PipelineSpec]:
    return [with_share(spec, name, r) for r in SHARE_STEPS]


def _pair_moves(a: str, b: str, spec: PipelineSpec) -> list[PipelineSpec]:
    """Two ops that overlap trade units: a gets R, b gets 1 - R (one-at-a-time moves
    cannot grow one share while the other still holds the rest)."""
    return [
        with_share(with_share(spec, a, r), b, round(1.0 - r, 1)) for r in SHARE_STEPS if 0 < r < 1
    ]


def _finer_moves(spec: PipelineSpec) -> list[PipelineSpec]:
    return [with_split(spec, spec.nano_tokens, not spec.splits)]


def _order_moves(spec: PipelineSpec) -> list[PipelineSpec]:
    return [replace(spec, order=order) for order in ORDERS if order != spec.order]


def _cut_moves(cuts: list[tuple[int, ...]], spec: PipelineSpec) -> list[PipelineSpec]:
    return [with_split(spec, nano, bool(spec.splits)) for nano in cuts]
