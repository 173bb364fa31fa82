"""`pim-attention`: NeuPIMs' division of labour (NeuPIMs §4, §8.1).

Decode attention (the per-request GEMVs over the KV cache, Op/B about 1 for MHA) runs on the
PIM; every GEMM, prefill attention and the all-reduce run on the NPU. Unlike `opb` this is
fixed by op, not priced: NeuPIMs' PIM commands (PIM_GEMV, PIM_HEADER...) implement attention
only. Prefill attention on the NPU and decode attention on the PIM share a stage; they run at
once with dual row buffers and take turns with one (`concurrent_memory: false`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmemu.core.errors import ConfigError
from llmemu.core.ops import Plan
from llmemu.core.routing.opb import overlapping
from llmemu.core.routing.placed import Placed, PricedBlock, PricedPlan

if TYPE_CHECKING:
    from llmemu.core.cost import Pricer

PIM_OPS = frozenset({"attn_decode"})


def route_pim_attention(plan: Plan, pricer: Pricer) -> PricedPlan:
    system = pricer.system
    pims = [p.name for p in system.processors if p.device.kind == "pim"]
    if not pims:
        raise ConfigError(
            f"policy.routing 'pim-attention' needs a PIM processor but system {system.name!r} "
            "has none; use routing xpu-only, or a system such as neupims or npu+pim"
        )
    npu = system.primary.name

    def place(op) -> Placed:
        proc = pims[0] if op.name in PIM_OPS else npu
        return Placed(op, proc, pricer.time(op, proc))

    blocks = []
    for block in plan.blocks:
        stages: list[tuple[Placed, ...]] = []
        for stage in block.stages:
            stages.extend(overlapping([place(op) for op in stage], system))
        blocks.append(PricedBlock(tuple(stages), block.repeat))
    return PricedPlan(tuple(blocks), plan.tokens)
