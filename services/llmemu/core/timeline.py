"""Timelines: how priced operations compose into an iteration's duration.

`serial` runs every op one after another (one processor, or processors that do not
overlap). `stages` runs the ops of one stage at once when they sit on different
processors, and one after another on the same processor: the stage takes as long as its
busiest processor, and the iteration is the sum of its stages (the critical path, since
stages depend on each other in order).
"""

from __future__ import annotations

from collections.abc import Callable

from llmemu.core.registry import lookup
from llmemu.core.routing.placed import PricedPlan

Timeline = Callable[[PricedPlan], float]


def serial(plan: PricedPlan) -> float:
    return sum(p.time_s * b.repeat for b in plan.blocks for p in b.placed())


def stages(plan: PricedPlan) -> float:
    total = 0.0
    for block in plan.blocks:
        per_layer = 0.0
        for stage in block.stages:
            if len(stage) == 1:
                per_layer += stage[0].time_s
                continue
            busy: dict[str, float] = {}
            for placed in stage:
                busy[placed.processor] = busy.get(placed.processor, 0.0) + placed.time_s
            per_layer += max(busy.values())
        total += per_layer * block.repeat
    return total


TIMELINES: dict[str, Timeline] = {"serial": serial, "stages": stages}


def get_timeline(name: str) -> Timeline:
    return lookup(TIMELINES, name, "timeline")
