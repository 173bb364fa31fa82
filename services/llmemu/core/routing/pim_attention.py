"""`pim-attention`: NeuPIMs' division of labour (NeuPIMs §4, §8.1).

Decode attention (the per-request GEMVs over the KV cache, Op/B about 1 for MHA) runs on the
PIM; every GEMM, prefill attention and the all-reduce run on the NPU. Unlike `opb` this is
fixed by op, not priced: NeuPIMs' PIM commands (PIM_GEMV, PIM_HEADER...) implement attention
only. Prefill attention on the NPU and decode attention on the PIM share a stage; they run at
once with dual row buffers and take turns with one (`concurrent_memory: false`).
When the batch gives each request's context and the PIM processor names a
`channel_placement`, decode attention lasts as long as the busiest of its channels
(core/channels.py); otherwise the channels are taken as perfectly balanced. A PIM device with
`pim_commands` (NeuPIMs' simulator) is priced command by command on each channel
(core/pim_commands.py); without, by its rates times the busiest channel's share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmemu.core.channels import PLACEMENTS, busiest_share
from llmemu.core.errors import ConfigError
from llmemu.core.ops import Op, Plan
from llmemu.core.pim_commands import attention_s, balanced_loads, channel_loads
from llmemu.core.routing.opb import overlapping
from llmemu.core.routing.placed import Placed, PricedBlock, PricedPlan

if TYPE_CHECKING:
    from llmemu.core.cost import Pricer
    from llmemu.core.specs.system import Processor

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
    pim = next(p for p in system.processors if p.name == pims[0])

    def place(op) -> Placed:
        if op.name not in PIM_OPS:
            return Placed(op, npu, pricer.time(op, npu))
        if pim.device.pim_commands is not None:
            k, v = pim_loads(op, pim, pricer.tp)
            return Placed(op, pim.name, attention_s(k, v, pim.device.pim_commands))
        return Placed(op, pim.name, pricer.time(op, pim.name) * channel_share(op, pim))

    blocks = []
    for block in plan.blocks:
        stages: list[tuple[Placed, ...]] = []
        for stage in block.stages:
            stages.extend(overlapping([place(op) for op in stage], system))
        blocks.append(PricedBlock(tuple(stages), block.repeat))
    return PricedPlan(tuple(blocks), plan.tokens)


def pim_loads(op: Op, pim: Processor, tp: int):
    """Per channel of one device, the (cycles, commands) of the op's K^T.q and s.V."""
    pc = pim.device.pim_commands
    assert pc is not None
    channels = pim.device.channels
    # attn_decode's FLOPs are 4 x query elements x context (planner.attn_decode)
    elements = round(op.flops / (4 * op.context_tokens) / tp) if op.context_tokens else 0
    if op.request_contexts is None or pim.channel_placement is None:
        return balanced_loads(
            op.tokens, op.context_tokens / max(op.tokens, 1), channels, elements, pc
        )
    placed = op.request_channels
    if placed is None:
        request_tokens = pim.device.efficiency.attention_request_tokens
        placed = PLACEMENTS[pim.channel_placement](op.request_contexts, channels, request_tokens)
    return channel_loads(op.request_contexts, placed, channels, elements, pc)


def channel_share(op: Op, pim: Processor) -> float:
    """How much longer than perfectly balanced channels the op's busiest channel takes."""
    policy, channels = pim.channel_placement, pim.device.channels
    if op.request_contexts is None or policy is None or channels == 1:
        return 1.0
    request_tokens = pim.device.efficiency.attention_request_tokens
    placed = op.request_channels
    if placed is None:
        placed = PLACEMENTS[policy](op.request_contexts, channels, request_tokens)
    return busiest_share(op.request_contexts, placed, channels, request_tokens)
