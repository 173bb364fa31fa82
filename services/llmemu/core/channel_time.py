"""How one iteration uses a PIM device's memory channels: PIM commands, NPU memory traffic,
and how much of the two ran at once (what `llmemu explain` prints for NeuPIMs systems).

Every channel carries the NPU's traffic (its reads and writes are interleaved over all
channels, so each channel sees bytes / TP / channels at 1 / channels of the bandwidth: the
op's memory time) and the PIM commands of the requests whose KV it holds (core/pim_commands.py).
With one row buffer they take turns, so nothing overlaps. With dual row buffers the NPU's
GEMMs of one sub-batch run beside the PIM attention of the other (core/interleave.py); in
each such pair the NPU reads memory for `memory / G` of its time G, spread evenly, so
NPU traffic and PIM commands share the channels for (memory / G) x min(G, M).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.ops import BatchShape, OpKind
from llmemu.core.pricing import PlanPricer
from llmemu.core.routing import PricedBlock, PricedPlan
from llmemu.core.routing.pim_attention import PIM_OPS, pim_loads


@dataclass(frozen=True)
class ChannelTime:
    """Seconds of one iteration (all layers) on one device's memory channels."""

    pim_s: float
    """Decode attention on the PIM as priced (waiting for commands included)."""
    busiest_channel_s: float
    """PIM commands of the busiest channel."""
    mean_channel_s: float
    npu_memory_s: float
    """The NPU's memory traffic, the same on every channel."""
    overlap_s: float
    """NPU traffic and PIM commands on the channels at once."""


def channel_time(plan_pricer: PlanPricer, batch: BatchShape) -> ChannelTime | None:
    """None when the system has no PIM with channels and command timing."""
    system = plan_pricer.pricer.system
    pim = next((p for p in system.processors if p.device.pim_commands is not None), None)
    if pim is None or pim.device.channels == 1:
        return None
    from llmemu.core.interleave import InterleavePricer, halve, placement  # PIM systems only

    primary = system.primary.name
    interleaved = isinstance(plan_pricer, InterleavePricer) and plan_pricer.sub_batches == 2
    halves = halve(batch, placement(batch, system.processors)) if interleaved else (batch,)
    if any(h.num_tokens == 0 for h in halves):
        halves = (batch,)
    plans = [plan_pricer.router(plan_pricer.plan(h), plan_pricer.pricer) for h in halves]
    busy = [0.0] * pim.device.channels
    pim_s = memory_s = 0.0
    for plan in plans:
        pim_s += _add_pim(plan, pim, plan_pricer.pricer.tp, busy)
        memory_s += sum(_memory(b, primary, plan_pricer) * b.repeat for b in plan.blocks)
    overlap = 0.0
    if len(plans) == 2 and pim.concurrent_memory and system.primary.concurrent_memory:
        overlap = _pairs_overlap(plans[0], plans[1], primary, plan_pricer)
    return ChannelTime(pim_s, max(busy), sum(busy) / len(busy), memory_s, overlap)


def _add_pim(plan: PricedPlan, pim, tp: int, busy: list[float]) -> float:
    """Adds each channel's own PIM seconds to `busy`; returns the PIM ops' priced seconds."""
    pc = pim.device.pim_commands
    priced = 0.0
    for placed, repeat in plan.placed_with_repeat():
        if placed.processor != pim.name or placed.op.name not in PIM_OPS:
            continue
        priced += placed.time_s * repeat
        k, v = pim_loads(placed.op, pim, tp)
        for c, ((kc, _), (vc, _)) in enumerate(zip(k, v, strict=True)):
            busy[c] += (kc + vc) / pc.clock_hz * repeat
    return priced


def _memory(block: PricedBlock, primary: str, plan_pricer: PlanPricer) -> float:
    """Seconds per layer the primary's ops of `block` spend on memory traffic."""
    pricer = plan_pricer.pricer
    rate = pricer.rates[primary].bytes_per_s * pricer.tp
    ops = (p.op for p in block.placed() if p.processor == primary)
    return sum(op.bytes / rate for op in ops if op.kind is not OpKind.COLLECTIVE)


def _side(block: PricedBlock | None, primary: str, plan_pricer: PlanPricer):
    """(NPU seconds, NPU memory seconds, PIM seconds) per layer of a block."""
    if block is None:
        return 0.0, 0.0, 0.0
    npu = sum(p.time_s for p in block.placed() if p.processor == primary)
    pim = sum(p.time_s for p in block.placed() if p.processor != primary)
    return npu, _memory(block, primary, plan_pricer), pim


def _pairs_overlap(a: PricedPlan, b: PricedPlan, primary: str, plan_pricer) -> float:
    """In (layers - 1) of each block's layers, A's GEMMs run beside B's attention and B's
    GEMMs beside A's attention (interleave.interleaved_s)."""
    total = 0.0
    for i in range(max(len(a.blocks), len(b.blocks))):
        block_a = a.blocks[i] if i < len(a.blocks) else None
        block_b = b.blocks[i] if i < len(b.blocks) else None
        layers = (block_a or block_b).repeat
        g_a, mem_a, m_a = _side(block_a, primary, plan_pricer)
        g_b, mem_b, m_b = _side(block_b, primary, plan_pricer)
        pair = (mem_a / g_a if g_a else 0.0) * min(g_a, m_b)
        pair += (mem_b / g_b if g_b else 0.0) * min(g_b, m_a)
        total += (layers - 1) * pair
    return total
