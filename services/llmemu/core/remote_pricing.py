"""Pricing through executors that own each processor's cost (device workers).

The hook that lets the distributed deployment keep one engine: any batching policy's
PlanPricer routes and prices the iteration with the scheduler's own cost model (routing
decisions need a price for every candidate processor), then every processor's executor gets
the ops placed on it in ONE call per iteration and answers their times. Those times replace
the estimates, and the iteration is timed again from them. In the embedded default nothing
of this runs; with executors that price with the same `Pricer` the result is identical.

`execute` is a plain callable (`{processor: [(op, layers)]} -> {processor: [s per layer]}`),
so the core knows nothing of HTTP: the service layer implements it over the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from llmemu.core.ops import BatchShape, Op
from llmemu.core.pricing import (
    IterationCost,
    PlanPricer,
    ProcessorWork,
    WrappedPlanPricer,
    processor_work,
)
from llmemu.core.routing import Placed, PricedBlock, PricedPlan

OpCall = tuple[Op, int]
"""One op placed on a processor, and the layers it runs in this iteration."""
ExecuteOps = Callable[[dict[str, list[OpCall]]], dict[str, list[float]]]


class RemotePlanPricer(WrappedPlanPricer):
    """Wraps the batching policy's PlanPricer; the executors are the authority on op times.

    Policies that time a plan with their `timeline` (continuous, sequential) are re-timed
    exactly from the executors' times. Policies that override `price` with a schedule of
    their own (e.g. NanoFlow's pipeline) keep their duration scaled by the ratio of the
    executors' busy time to the estimate: exact when the executors agree with the estimate,
    an approximation when they do not (documented in docs/distributed.md). Their own busy
    time (overlapping ops share a device) and its split scale by the same ratio: the sum of
    each op's time alone would count overlapped time twice, busier than the iteration."""

    def __init__(self, inner: PlanPricer, execute: ExecuteOps) -> None:
        super().__init__(inner)
        self.execute = execute
        self._retime = type(inner).price is PlanPricer.price
        inner.keep_plan = True  # the placed ops are what the executors receive

    def with_routing(self, batch: BatchShape) -> BatchShape:
        return self.inner.with_routing(batch)

    def price(self, batch: BatchShape) -> IterationCost:
        local = self.inner.price(batch)
        assert local.plan is not None  # keep_plan is forced on above
        calls, index = _calls_by_processor(local.plan)
        times = self.execute(calls)
        for proc, sent in calls.items():
            got = times.get(proc)
            if got is None or len(got) != len(sent):
                raise ValueError(
                    f"executor of processor {proc!r} answered "
                    f"{0 if got is None else len(got)} times for {len(sent)} ops"
                )
        plan = PricedPlan(
            tuple(
                PricedBlock(
                    tuple(
                        tuple(
                            Placed(p.op, p.processor, times[p.processor][index[id(p)]])
                            for p in stage
                        )
                        for stage in block.stages
                    ),
                    block.repeat,
                )
                for block in local.plan.blocks
            ),
            local.plan.tokens,
        )
        work = processor_work(plan)
        if self._retime:
            duration = self.timeline(plan)
        else:
            # Like with like: the same ops' times as priced locally (a policy's own busy
            # time may count something else, e.g. NanoFlow's share-seconds).
            before = sum(w.busy_s for w in processor_work(local.plan).values())
            after = sum(w.busy_s for w in work.values())
            ratio = after / before if before > 0 else 1.0
            duration = local.duration_s * ratio
            work = {p: _timed(w, ratio) for p, w in local.work.items()}
        return IterationCost(duration, work, plan if self.keep_plan else None)


def _timed(work: ProcessorWork, ratio: float) -> ProcessorWork:
    """The same work, its times scaled by `ratio`."""
    seconds = {name: spent * ratio for name, spent in work.seconds.items()}
    return replace(work, busy_s=work.busy_s * ratio, seconds=seconds)


def _calls_by_processor(plan: PricedPlan) -> tuple[dict[str, list[OpCall]], dict[int, int]]:
    """Ops grouped by processor, and each placed op's index in its processor's list."""
    calls: dict[str, list[OpCall]] = {}
    index: dict[int, int] = {}
    for placed, repeat in plan.placed_with_repeat():
        sent = calls.setdefault(placed.processor, [])
        index[id(placed)] = len(sent)
        sent.append((placed.op, repeat))
    return calls, index
