"""`opb`: every op of every iteration on the processor that finishes it soonest (Duplex §IV).

The pricer's time already folds in the op's Op/B: a GEMM of m tokens has Op/B close to m, so
on H100 + Logic-PIM at peak rates the Logic-PIM wins exactly when Op/B < P_PIM / BW_xPU =
107.3 TFLOP/s / 3.352 TB/s = 32 (papers.md 1.4). With the presets' efficiencies the crossover
moves to 32 x eff_compute(PIM) / eff_memory(xPU), where the xPU is memory-bound: 40.

Without co-processing the xPU and the PIM take turns, as in Duplex's base design: ops of one
stage that land on different processors run one after the other. MoE experts use plain expert
parallelism (whole experts per device; Duplex §V-B), so the layer waits for the busiest device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmemu.core.ops import Op, Plan
from llmemu.core.routing.experts import expert_groups, layout_time
from llmemu.core.routing.placed import Placed, PricedBlock, PricedPlan

if TYPE_CHECKING:
    from llmemu.core.cost import Pricer
    from llmemu.core.specs.system import SystemSpec


def fastest(pricer: Pricer, op: Op, num_groups: int = 1) -> Placed:
    """The op on the processor that finishes it first (the primary on ties)."""
    best: Placed | None = None
    for proc in pricer.system.processors:
        if op.expert_tokens and num_groups > 1:
            seconds = layout_time(pricer, op, proc.name, num_groups)
        else:
            seconds = pricer.time(op, proc.name)
        if best is None or seconds < best.time_s:
            best = Placed(op, proc.name, seconds)
    assert best is not None  # a system has at least one processor
    return best


def one_at_a_time(stage: list[Placed]) -> list[tuple[Placed, ...]]:
    """A stage's ops as stages of one processor each, in the order processors first appear."""
    by_proc: dict[str, list[Placed]] = {}
    for placed in stage:
        by_proc.setdefault(placed.processor, []).append(placed)
    return [tuple(group) for group in by_proc.values()]


def overlapping(stage: list[Placed], system: SystemSpec) -> list[tuple[Placed, ...]]:
    """A stage whose ops run at once on their processors, unless one of those processors
    cannot use memory while the others do (a single row buffer): then they take turns."""
    procs = {p.processor for p in stage}
    exclusive = any(not p.concurrent_memory for p in system.processors if p.name in procs)
    if len(procs) > 1 and exclusive:
        return one_at_a_time(stage)
    return [tuple(stage)]


def ep_groups(pricer: Pricer, op: Op, *, sliced: bool) -> int:
    if not op.expert_tokens:
        return 1
    return expert_groups(pricer.tp, len(op.expert_tokens), sliced=sliced)


def route_opb(plan: Plan, pricer: Pricer) -> PricedPlan:
    blocks = []
    for block in plan.blocks:
        stages: list[tuple[Placed, ...]] = []
        for stage in block.stages:
            placed = [fastest(pricer, op, ep_groups(pricer, op, sliced=False)) for op in stage]
            stages.extend(one_at_a_time(placed))
        blocks.append(PricedBlock(tuple(stages), block.repeat))
    return PricedPlan(tuple(blocks), plan.tokens)
