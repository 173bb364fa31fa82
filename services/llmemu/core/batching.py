"""Batching policies: how a scheduled batch becomes a timed iteration.

`continuous` plans the whole batch as one and composes it with the `stages` timeline
(identical to running op after op when there is one processor). Policies that split a
batch (NanoFlow's nano-batches, NeuPIMs' sub-batches) register a factory here that builds
their own PlanPricer. A factory gets everything the replica is made of.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llmemu.core.cost import Pricer
from llmemu.core.edge.pricer import edge
from llmemu.core.interleave import sub_batch_interleave
from llmemu.core.nanoflow.pricer import nanoflow
from llmemu.core.pricing import ExpertRouting, PlanPricer
from llmemu.core.registry import lookup
from llmemu.core.routing import Router
from llmemu.core.scenario import PolicySpec
from llmemu.core.sequential import sequential
from llmemu.core.specs.model import ModelSpec
from llmemu.core.timeline import stages


@dataclass(frozen=True, slots=True)
class Parts:
    """What a batching policy composes."""

    model: ModelSpec
    policy: PolicySpec
    pricer: Pricer
    router: Router
    experts: ExpertRouting


BatchingFactory = Callable[[Parts], PlanPricer]


def continuous(parts: Parts) -> PlanPricer:
    return PlanPricer(parts.model, parts.pricer, parts.router, stages, parts.experts)


BATCHING: dict[str, BatchingFactory] = {
    "continuous": continuous,
    "edge": edge,
    "sub-batch-interleave": sub_batch_interleave,
    "sequential": sequential,
    "nanoflow": nanoflow,
}


def get_batching(name: str) -> BatchingFactory:
    return lookup(BATCHING, name, "policy.batching")
