"""Routing policies: which processor of each device runs each operation.

A policy takes a plan and a pricer and returns the plan with every op placed and priced.
It may split an op across processors (expert co-processing) as long as the pieces stay in
the op's stage. Policies are registered by the name a scenario uses (`policy.routing`).
"""

from __future__ import annotations

from collections.abc import Callable

from llmemu.core.ops import Plan
from llmemu.core.registry import lookup
from llmemu.core.routing.coprocess import route_opb_coprocess, route_opb_coprocess_et
from llmemu.core.routing.opb import route_opb
from llmemu.core.routing.pim_attention import route_pim_attention
from llmemu.core.routing.placed import Placed, PricedBlock, PricedPlan
from llmemu.core.routing.xpu_only import route_xpu_only

Router = Callable[[Plan, "Pricer"], PricedPlan]  # noqa: F821 (Pricer: llmemu.core.cost)

ROUTERS: dict[str, Router] = {
    "xpu-only": route_xpu_only,
    "opb": route_opb,
    "opb-coprocess": route_opb_coprocess,
    "opb-coprocess+et": route_opb_coprocess_et,
    "pim-attention": route_pim_attention,
}


def get_router(name: str) -> Router:
    return lookup(ROUTERS, name, "policy.routing")


__all__ = ["Placed", "PricedBlock", "PricedPlan", "ROUTERS", "Router", "get_router"]
