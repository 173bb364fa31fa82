"""Pricing an iteration on one processor by its parts, the recurring ones memoised.

On one processor (`xpu-only` routing under the `stages` timeline, where the ops of a stage
that share a processor run one after another) an iteration's duration is the sum over its
ops of each op's time times the layers it runs in, and its work is the same sum. So the
price splits into parts:
- every op but attention and the LM head depends only on the tokens computed (m): priced
  once per m;
- the LM head depends only on the requests that sample (logits): priced once per count;
- attention depends on the prompt chunks and the summed decode context, which change every
  iteration: priced each time, from the same op the planner builds.
The parts are the same op prices the full plan adds (`PlanPricer.price_exactly`), summed in
another order, so the two agree to rounding (1e-15 relative). Batches with sampled expert
routing or per-request contexts are priced whole.
"""

from __future__ import annotations

from collections.abc import Callable

from llmemu.core.ops import BatchShape, Op
from llmemu.core.planner import attention_ops, lm_head, token_ops
from llmemu.core.pricing import IterationCost, PlanPricer, ProcessorWork


class PricedByParts:
    def __init__(self, plan_pricer: PlanPricer) -> None:
        self.model = plan_pricer.model
        self.pricer = plan_pricer.pricer
        self.processor = self.pricer.system.primary.name
        self.layers = float(self.model.num_layers)
        self._tokens: dict[int, IterationCost] = {}
        self._logits: dict[int, IterationCost] = {}

    def price(self, batch: BatchShape, exact: Callable[[BatchShape], IterationCost]):
        if batch.expert_tokens is not None or batch.decode_contexts is not None:
            return exact(batch)
        chunks = batch.prefill_chunks
        m = batch.num_decode + sum(c for c, _ in chunks) if chunks else batch.num_decode
        tokens = self._tokens.get(m) or self.tokens_part(m)
        head = self._logits.get(batch.num_logits) or self.head_part(batch.num_logits)
        duration = tokens.duration_s + head.duration_s
        terms = [(tokens, 1.0), (head, 1.0)]
        layers, processor, time = self.layers, self.processor, self.pricer.time
        for op in attention_ops(self.model, batch):
            busy = time(op, processor) * layers
            counts = {op.name: layers}
            work = ProcessorWork(
                busy, op.flops * layers, op.bytes * layers, op.write_bytes * layers, counts, {}
            )
            terms.append((IterationCost(busy, {processor: work}), 1.0))
            duration += busy
        return IterationCost(duration, None, None, terms)

    def tokens_part(self, m: int) -> IterationCost:
        """The ops of m tokens but attention and the LM head (memoised)."""
        part = self._tokens.get(m)
        if part is None:
            part = self._tokens[m] = self._part(token_ops(self.model, m, self.pricer.tp))
        return part

    def head_part(self, logits: int) -> IterationCost:
        """The LM head of `logits` sampling requests (memoised)."""
        part = self._logits.get(logits)
        if part is None:
            ops = ((lm_head(self.model, logits), 1),) if logits else ()
            part = self._logits[logits] = self._part(ops)
        return part

    def _part(self, ops: tuple[tuple[Op, int], ...]) -> IterationCost:
        """The ops, each run in its layers, on the one processor."""
        time, processor = self.pricer.time_once, self.processor
        busy = flops = moved = written = 0.0
        counts: dict[str, float] = {}
        for op, layers in ops:
            busy += time(op, processor) * layers
            flops += op.flops * layers
            moved += op.bytes * layers
            written += op.write_bytes * layers
            counts[op.name] = counts.get(op.name, 0.0) + layers
        work = ProcessorWork(busy, flops, moved, written, counts, {})
        return IterationCost(busy, {processor: work}, shared=True)
