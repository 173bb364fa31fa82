"""From a batch to an iteration's duration and per-processor work.

PlanPricer is the one place that joins the planner, the routing policy, the cost model
and the timeline; the engine sees only `price(batch) -> IterationCost`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from llmemu.core.cost import Pricer
from llmemu.core.ops import BatchShape, Plan
from llmemu.core.planner import plan_iteration
from llmemu.core.routing import PricedPlan, Router
from llmemu.core.specs.model import ModelSpec
from llmemu.core.timeline import Timeline


@dataclass(slots=True)
class ProcessorWork:
    """What one processor (over all TP devices) did, summed over iterations."""

    busy_s: float = 0.0
    flops: float = 0.0
    bytes: float = 0.0
    write_bytes: float = 0.0
    ops_by_kind: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    """Time by activity where a strategy splits it (edge: compute, communication, disk...)."""

    def add(self, other: ProcessorWork, scale: float = 1.0) -> None:
        self.busy_s += other.busy_s * scale
        self.flops += other.flops * scale
        self.bytes += other.bytes * scale
        self.write_bytes += other.write_bytes * scale
        for name, count in other.ops_by_kind.items():
            self.ops_by_kind[name] = self.ops_by_kind.get(name, 0.0) + count * scale
        for name, spent in other.seconds.items():
            self.seconds[name] = self.seconds.get(name, 0.0) + spent * scale


class IterationCost:
    """Duration of one iteration (or the total of a fused run) and the work behind it.

    The work is either given (`work`) or a weighted sum of other costs (`terms`), summed
    only when read: a fused run is its first and last iteration's costs with weights, and
    an iteration priced by parts is its parts. A recorder that only totals work adds the
    weights of the terms (`leaves`) instead of merging dicts every step."""

    __slots__ = ("duration_s", "_work", "plan", "terms", "shared")

    def __init__(
        self,
        duration_s: float,
        work: dict[str, ProcessorWork] | None = None,
        plan: PricedPlan | None = None,
        terms: Sequence[tuple[IterationCost, float]] = (),
        *,
        shared: bool = False,
    ) -> None:
        self.duration_s = duration_s
        self._work = {} if work is None and not terms else work
        self.plan = plan
        self.terms = terms
        self.shared = shared
        """A memoised cost that recurs in many iterations' terms: a recorder may count its
        weight and add its work once, at the end."""

    @property
    def work(self) -> dict[str, ProcessorWork]:
        if self._work is None:
            total: dict[str, ProcessorWork] = {}
            for leaf, weight in self.leaves():
                for name, w in leaf.work.items():
                    into = total.get(name)
                    if into is None:
                        into = total[name] = ProcessorWork()
                    into.add(w, weight)
            self._work = total
        return self._work

    def leaves(self, weight: float = 1.0) -> list[tuple[IterationCost, float]]:
        """(cost with its own work, weight) pairs whose weighted sum is this cost's work."""
        if self._work is not None:
            return [(self, weight)]
        out = []
        for term, w in self.terms:
            if term._work is not None:
                out.append((term, weight * w))
            else:
                out += term.leaves(weight * w)
        return out

    def interpolate(self, last: IterationCost, k: int, limit: int) -> IterationCost:
        """Totals over the first k of `limit` iterations whose costs grow linearly to `last`."""
        weight_last = k * (k - 1) / 2 / (limit - 1)
        weight_first = k - weight_last
        duration = self.duration_s * weight_first + last.duration_s * weight_last
        return IterationCost(duration, None, self.plan, ((self, weight_first), (last, weight_last)))


def processor_work(plan: PricedPlan) -> dict[str, ProcessorWork]:
    work: dict[str, ProcessorWork] = {}
    for block in plan.blocks:
        repeat = block.repeat
        for stage in block.stages:
            for placed in stage:
                w = work.get(placed.processor)
                if w is None:
                    w = work[placed.processor] = ProcessorWork()
                op = placed.op
                w.busy_s += placed.time_s * repeat
                w.flops += op.flops * repeat
                w.bytes += op.bytes * repeat
                w.write_bytes += op.write_bytes * repeat
                counts = w.ops_by_kind
                counts[op.name] = counts.get(op.name, 0.0) + repeat
    return work


class ExpertRouting:
    """Tokens per expert: `uniform` samples each token's top-k choice (seeded); `balanced`
    spreads them evenly (the planner's default when no counts are given)."""

    def __init__(self, model: ModelSpec, kind: str, seed: int) -> None:
        self.model = model
        self.kind = kind
        self.rng = np.random.default_rng(seed)
        self.probs = np.full(model.num_experts, 1.0 / model.num_experts) if model.is_moe else None

    def sample(self, tokens: int) -> tuple[int, ...] | None:
        if self.probs is None or self.kind == "balanced" or tokens == 0:
            return None
        counts = self.rng.multinomial(tokens * self.model.experts_per_token, self.probs)
        return tuple(int(c) for c in counts)


class Memo(Protocol):
    def price(
        self, batch: BatchShape, exact: Callable[[BatchShape], IterationCost]
    ) -> IterationCost: ...


class PlanPricer:
    """Plans, routes, prices and times one iteration."""

    def __init__(
        self,
        model: ModelSpec,
        pricer: Pricer,
        router: Router,
        timeline: Timeline,
        experts: ExpertRouting | None = None,
        *,
        keep_plan: bool = False,
    ) -> None:
        self.model = model
        self.pricer = pricer
        self.router = router
        self.timeline = timeline
        self.experts = experts
        self.keep_plan = keep_plan
        self.memo: Memo | None = None
        """Set by a batching policy whose prices it knows to be memoisable (price_memo.py)."""

    def with_routing(self, batch: BatchShape) -> BatchShape:
        if self.experts is None or not self.model.is_moe:
            return batch
        counts = self.experts.sample(batch.num_tokens)
        if counts is None:
            return batch
        return replace(batch, expert_tokens=counts)  # keeps per-request decode contexts

    def plan(self, batch: BatchShape) -> Plan:
        return plan_iteration(self.model, batch, self.pricer.tp)

    def price(self, batch: BatchShape) -> IterationCost:
        if self.memo is not None and not self.keep_plan:
            return self.memo.price(batch, self.price_exactly)
        return self.price_exactly(batch)

    def price_exactly(self, batch: BatchShape) -> IterationCost:
        priced = self.router(self.plan(batch), self.pricer)
        return IterationCost(
            self.timeline(priced), processor_work(priced), priced if self.keep_plan else None
        )


class WrappedPlanPricer(PlanPricer):
    """A PlanPricer around another (`inner`), planning with the same parts: a wrapper adds
    to, or re-times, what `inner` prices."""

    def __init__(self, inner: PlanPricer) -> None:
        super().__init__(
            inner.model,
            inner.pricer,
            inner.router,
            inner.timeline,
            inner.experts,
            keep_plan=inner.keep_plan,
        )
        self.inner = inner
