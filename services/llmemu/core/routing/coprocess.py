"""`opb-coprocess` and `opb-coprocess+et`: Duplex's co-processing (Duplex §V-B).

On top of `opb`'s choice per op:
- expert co-processing: the experts of one MoE layer have no mutual dependency, so Duplex
  starts from every expert on the xPU and moves the experts with the fewest tokens to the
  Logic-PIM one by one, keeping the split whose slower side finishes first. The two parts
  are ops of the same stage on two processors, so the `stages` timeline runs them at once;
- attention co-processing: prefill attention (high Op/B) stays on the xPU while decode
  attention (Op/B about deg_grp) runs on the Logic-PIM, concurrently (same stage).
`opb-coprocess` keeps plain expert parallelism (whole experts per device, so each device has
few experts to split); `+et` slices every expert over the devices of a node (expert tensor
parallelism) and splits the slices, with expert parallelism across nodes.

The xPU and the Logic-PIM share the HBM. Duplex partitions it by bank bundle (experts round-
robin over four sections, KV in three, prefill Q/K/V in the fourth) so that the two never
collide, and the Logic-PIM reads through its own TSVs: concurrent traffic is not charged
against either side. A processor marked `concurrent_memory: false` (one row buffer) takes
turns instead, and then splitting an op between the two gains nothing: it is not split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmemu.core.ops import Op, Plan
from llmemu.core.routing.experts import group_time, split_by_group, subset
from llmemu.core.routing.opb import ep_groups, fastest, overlapping
from llmemu.core.routing.placed import Placed, PricedBlock, PricedPlan

if TYPE_CHECKING:
    from llmemu.core.cost import Pricer


def best_split(pricer: Pricer, op: Op, xpu: str, pim: str, num_groups: int):
    """(xPU seconds, PIM seconds, experts' tokens on the PIM) of one group's experts, after
    moving the k experts with the fewest tokens to the PIM for the best k (Duplex §V-B)."""
    busy = sorted(t for t in op.expert_tokens if t)
    best = None
    for k in range(len(busy) + 1):
        pim_s = group_time(pricer, subset(op, busy[:k]), pim, num_groups)
        xpu_s = group_time(pricer, subset(op, busy[k:]), xpu, num_groups)
        if best is None or max(xpu_s, pim_s) < max(best[0], best[1]):
            best = (xpu_s, pim_s, busy[:k], busy[k:])
    return best


def coprocess_experts(pricer: Pricer, op: Op, xpu: str, pim: str, num_groups: int):
    """The experts op as one part per processor; each part lasts as long as its busiest group."""
    xpu_tokens: list[int] = []
    pim_tokens: list[int] = []
    xpu_s = pim_s = 0.0
    for tokens in split_by_group(op, num_groups):
        group_op = subset(op, tokens) if num_groups > 1 else op
        x_s, p_s, to_pim, to_xpu = best_split(pricer, group_op, xpu, pim, num_groups)
        xpu_s, pim_s = max(xpu_s, x_s), max(pim_s, p_s)
        xpu_tokens += to_xpu
        pim_tokens += to_pim
    parts = []
    if xpu_tokens:
        parts.append(Placed(subset(op, xpu_tokens), xpu, xpu_s))
    if pim_tokens:
        parts.append(Placed(subset(op, pim_tokens), pim, pim_s))
    return parts or [fastest(pricer, op, num_groups)]


def _route(plan: Plan, pricer: Pricer, *, sliced: bool) -> PricedPlan:
    system = pricer.system
    xpu = system.primary.name
    others = [p for p in system.processors if p.name != xpu]
    split = bool(others) and others[0].concurrent_memory
    blocks = []
    for block in plan.blocks:
        stages: list[tuple[Placed, ...]] = []
        for stage in block.stages:
            placed: list[Placed] = []
            for op in stage:
                groups = ep_groups(pricer, op, sliced=sliced)
                if op.expert_tokens and split:
                    placed += coprocess_experts(pricer, op, xpu, others[0].name, groups)
                else:
                    placed.append(fastest(pricer, op, groups))
            stages.extend(overlapping(placed, system))
        blocks.append(PricedBlock(tuple(stages), block.repeat))
    return PricedPlan(tuple(blocks), plan.tokens)


def route_opb_coprocess(plan: Plan, pricer: Pricer) -> PricedPlan:
    return _route(plan, pricer, sliced=False)


def route_opb_coprocess_et(plan: Plan, pricer: Pricer) -> PricedPlan:
    return _route(plan, pricer, sliced=True)
