"""`xpu-only`: every operation on the system's primary processor (the GPU baseline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmemu.core.ops import OpKind, Plan
from llmemu.core.routing.placed import Placed, PricedBlock, PricedPlan

if TYPE_CHECKING:
    from llmemu.core.cost import Pricer


def route_xpu_only(plan: Plan, pricer: Pricer) -> PricedPlan:
    name = pricer.system.primary.name
    memo = pricer.memo("xpu-only")

    def place(stage):
        # The planner shares the stages of recurring GEMMs: place each of those once.
        routed = memo.get(stage)
        if routed is None:
            routed = tuple(Placed(op, name, pricer.time(op, name)) for op in stage)
            if all(op.kind is not OpKind.ATTENTION for op in stage):
                memo[stage] = routed
        return routed

    blocks = tuple(PricedBlock(tuple(map(place, b.stages)), b.repeat) for b in plan.blocks)
    return PricedPlan(blocks, plan.tokens)
