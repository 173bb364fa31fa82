"""`sub-batch-interleave` batching: NeuPIMs' sub-batch interleaving (NeuPIMs §6.2).

The batch is split into two sub-batches A and B of equal attention load: Algorithm 3 halves
every PIM channel's requests when the batch gives each request's context (the channels placed
by the PIM's `channel_placement`, core/channels.py); otherwise decodes, their summed context
and the prefill chunks are halved.
In every layer the NPU runs one sub-batch's GEMMs while the PIM runs the other's attention:
- T_block = G_A + M_A + G_B + M_B, one layer of both sub-batches, nothing overlapped;
- T_partial = max(G_A, M_B) + max(G_B, M_A), one layer in the interleaved steady state;
- N layers take (N - 1) T_partial + T_block (NeuPIMs §6.2),
where G is a sub-batch's per-layer time on the primary processor (NPU: GEMMs, all-reduce) and
M its per-layer time on the others (PIM: decode attention). Splitting is not free: every GEMM
reads its weights once per sub-batch. With one row buffer (`concurrent_memory: false`) the PIM
and the NPU take turns, so T_partial = T_block. `policy.sub_batches: 1` prices the batch whole.
"""

from __future__ import annotations

from dataclasses import replace

from llmemu.core.channels import PLACEMENTS, split_by_channel
from llmemu.core.errors import ConfigError
from llmemu.core.ops import BatchShape
from llmemu.core.pricing import IterationCost, PlanPricer, ProcessorWork, processor_work
from llmemu.core.routing import PricedBlock, PricedPlan
from llmemu.core.timeline import stages


def interleaved_s(
    layers: int, npu_s: tuple[float, float], pim_s: tuple[float, float], *, overlap: bool = True
) -> float:
    """Seconds for `layers` layers of sub-batches A and B: (N - 1) T_partial + T_block."""
    (g_a, g_b), (m_a, m_b) = npu_s, pim_s
    block = g_a + m_a + g_b + m_b
    partial = max(g_a, m_b) + max(g_b, m_a) if overlap else block
    return (layers - 1) * partial + block


def halve(
    batch: BatchShape, placed: tuple[int, ...] | None = None
) -> tuple[BatchShape, BatchShape]:
    """Two sub-batches with half the decodes, context, prefill chunks and sampled tokens each.
    With per-request contexts, each PIM channel's requests are halved (Algorithm 3; `placed`:
    each request's channel, None: alternate requests), and the halves keep their channels."""
    if batch.decode_contexts is not None:
        return _halve_requests(batch, placed)
    n_a = (batch.num_decode + 1) // 2
    ctx_a = batch.decode_context * n_a // batch.num_decode if batch.num_decode else 0
    chunks_a, chunks_b = batch.prefill_chunks[0::2], batch.prefill_chunks[1::2]
    logits_a = (batch.num_logits + 1) // 2
    experts_a = experts_b = None
    if batch.expert_tokens is not None:
        experts_a = tuple((t + 1) // 2 for t in batch.expert_tokens)
        experts_b = tuple(t // 2 for t in batch.expert_tokens)
    a = BatchShape(chunks_a, n_a, ctx_a, logits_a, experts_a)
    b = BatchShape(
        chunks_b,
        batch.num_decode - n_a,
        batch.decode_context - ctx_a,
        batch.num_logits - logits_a,
        experts_b,
    )
    return a, b


def _halve_requests(batch: BatchShape, placed: tuple[int, ...] | None):
    contexts = batch.decode_contexts
    if placed is None:
        picks = (list(range(0, len(contexts), 2)), list(range(1, len(contexts), 2)))
    else:
        picks = split_by_channel(placed)
    whole = halve(replace(batch, decode_contexts=None, decode_channels=None))
    out = []
    for half, idx in zip(whole, picks, strict=True):
        ctx = tuple(contexts[i] for i in idx)
        chans = tuple(placed[i] for i in idx) if placed is not None else None
        out.append(
            replace(
                half,
                num_decode=len(idx),
                decode_context=sum(ctx),
                decode_contexts=ctx,
                decode_channels=chans,
            )
        )
    return out[0], out[1]


def placement(batch: BatchShape, processors) -> tuple[int, ...] | None:
    """Each decoding request's channel by the PIM processor's policy (None: nothing to place)."""
    if batch.decode_contexts is None or batch.decode_channels is not None:
        return batch.decode_channels
    for p in processors:
        if p.channel_placement is not None and p.device.channels > 1:
            rt = p.device.efficiency.attention_request_tokens
            return PLACEMENTS[p.channel_placement](batch.decode_contexts, p.device.channels, rt)
    return None


def sides(block: PricedBlock, primary: str) -> tuple[float, float]:
    """(primary seconds, other processors' seconds) of one layer of a block."""
    npu = other = 0.0
    for stage in block.stages:
        busy: dict[str, float] = {}
        for placed in stage:
            busy[placed.processor] = busy.get(placed.processor, 0.0) + placed.time_s
        npu += busy.pop(primary, 0.0)
        other += max(busy.values(), default=0.0)
    return npu, other


class InterleavePricer(PlanPricer):
    """Prices an iteration as two interleaved sub-batches (or whole, with one sub-batch)."""

    def __init__(self, *args, sub_batches: int = 2, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if sub_batches not in (1, 2):
            raise ConfigError(
                f"policy.sub_batches={sub_batches}: sub-batch-interleave splits a batch in 1 "
                "or 2 (NeuPIMs interleaves two); set policy.sub_batches to 2"
            )
        self.sub_batches = sub_batches
        system = self.pricer.system
        self.primary = system.primary.name
        self.overlap = all(p.concurrent_memory for p in system.processors)

    def price(self, batch: BatchShape) -> IterationCost:
        halves = halve(batch, placement(batch, self.pricer.system.processors))
        if self.sub_batches == 1 or any(h.num_tokens == 0 for h in halves):
            return super().price(batch)
        a, b = (self.router(self.plan(h), self.pricer) for h in halves)
        duration = 0.0
        for i in range(max(len(a.blocks), len(b.blocks))):
            block_a = a.blocks[i] if i < len(a.blocks) else None
            block_b = b.blocks[i] if i < len(b.blocks) else None
            layers = (block_a or block_b).repeat
            g_a, m_a = sides(block_a, self.primary) if block_a else (0.0, 0.0)
            g_b, m_b = sides(block_b, self.primary) if block_b else (0.0, 0.0)
            duration += interleaved_s(layers, (g_a, g_b), (m_a, m_b), overlap=self.overlap)
        work: dict[str, ProcessorWork] = processor_work(a)
        for name, w in processor_work(b).items():
            work.setdefault(name, ProcessorWork()).add(w)
        both = PricedPlan(a.blocks + b.blocks, a.tokens + b.tokens)
        return IterationCost(duration, work, both if self.keep_plan else None)


def sub_batch_interleave(parts) -> PlanPricer:
    """BATCHING factory: `policy.sub_batches` (1 or 2) sub-batches per iteration."""
    return InterleavePricer(
        parts.model,
        parts.pricer,
        parts.router,
        stages,
        parts.experts,
        sub_batches=parts.policy.sub_batches,
    )
