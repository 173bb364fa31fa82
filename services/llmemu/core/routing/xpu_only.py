"""`xpu-only`: every operation on the system's primary processor (the GPU baseline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmemu.core.ops import Plan
from llmemu.core.routing.placed import Placed, PricedBlock, PricedPlan

if TYPE_CHECKING:
    from llmemu.core.cost import Pricer


def route_xpu_only(plan: Plan, pricer: Pricer) -> PricedPlan:
    name = pricer.system.primary.name

    def place(op):
        return Placed(op, name, pricer.time(op, name))

    blocks = tuple(
        PricedBlock(tuple(tuple(map(place, stage)) for stage in b.stages), b.repeat)
        for b in plan.blocks
    )
    return PricedPlan(blocks, plan.tokens)
