"""One replica's engine: schedule, price, update; plain data between the three verbs.

`step(now, horizon)` runs one iteration, or several fused into one step when nothing can
change the batch: a decode-only batch with nobody waiting to be admitted is stable until
its next completion, the next arrival (`horizon`) or the KV cache filling up. Each fused
iteration is still priced as its own iteration (duration interpolated between the first
and the last, which differ only by attention over a context that grows by one token per
request per iteration), so results do not depend on how iterations were grouped into steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from llmemu.core.kvcache import KVCache
from llmemu.core.ops import BatchShape
from llmemu.core.pricing import IterationCost, PlanPricer
from llmemu.core.request import Request, Status
from llmemu.core.scheduler import Scheduled, Scheduler


@dataclass(slots=True)
class StepResult:
    """What one engine step did, for the driver and the metrics."""

    start_s: float
    duration_s: float
    iterations: int
    first_iteration_s: float
    """Duration of the first fused iteration; later ones grow by `slope_s` each."""
    slope_s: float
    scheduled: Scheduled
    emitted: list[Request] = field(default_factory=list)
    """Requests that produced tokens (one per iteration each)."""
    first_tokens: list[Request] = field(default_factory=list)
    finished: list[Request] = field(default_factory=list)
    itl_samples: int = 0
    """Decode tokens per iteration: the inter-token gaps this step observed each iteration."""
    cost: IterationCost | None = None
    batch: BatchShape | None = None
    """The first iteration's batch as the planner saw it."""


class Engine:
    """Continuous batching over a priced plan; deterministic for a given seed."""

    def __init__(
        self,
        scheduler: Scheduler,
        pricer: PlanPricer,
        *,
        max_fused_iterations: int = 1 << 30,
    ) -> None:
        self.scheduler = scheduler
        self.pricer = pricer
        self.max_fused_iterations = max_fused_iterations
        self._next_id = 0

    # ---- requests ---------------------------------------------------------------------
    def new_request(self, arrival_s: float, prompt_tokens: int, output_tokens: int) -> Request:
        req = Request(self._next_id, arrival_s, prompt_tokens, output_tokens)
        self._next_id += 1
        self.scheduler.add(req)
        return req

    def abort(self, req: Request) -> None:
        if not req.done:
            self.scheduler.abort(req)

    @property
    def kv(self) -> KVCache:
        return self.scheduler.kv

    def has_work(self) -> bool:
        return bool(self.scheduler.running or self.scheduler.waiting)

    # ---- the step ---------------------------------------------------------------------
    def step(self, now: float, horizon: float = math.inf) -> StepResult | None:
        """Run one iteration (or a fused run of them) starting at `now`; None if idle."""
        scheduled = self.scheduler.schedule()
        if scheduled.empty:
            return None
        shape, remaining = self._shape(scheduled)
        first = self.pricer.price(shape)
        k, slope, cost = 1, 0.0, first
        limit = self._fusable(scheduled, remaining)
        if limit > 1:
            last_shape = BatchShape(
                num_decode=shape.num_decode,
                decode_context=shape.decode_context + shape.num_decode * (limit - 1),
                num_logits=shape.num_logits,
                expert_tokens=shape.expert_tokens,
            )
            last = self.pricer.price(last_shape)
            slope = (last.duration_s - first.duration_s) / (limit - 1)
            k = _iterations_until(horizon - now, first.duration_s, slope, limit)
            cost = first.interpolate(last, k, limit)
        duration = k * first.duration_s + slope * k * (k - 1) / 2
        result = StepResult(
            now, duration, k, first.duration_s, slope, scheduled, cost=cost, batch=shape
        )
        self._update(result, now, k)
        return result

    def _shape(self, scheduled: Scheduled) -> tuple[BatchShape, int]:
        """The batch as the planner sees it, and the fewest tokens any request still has to
        generate if every entry is a decode (0 otherwise: such a batch cannot be fused)."""
        chunks = []
        num_decode = decode_context = logits = 0
        remaining = 1 << 62
        for req, n in scheduled.entries:
            known = req.prompt_tokens + req.generated
            computed = req.computed
            if n == 1 and computed == known - 1 and req.generated:
                num_decode += 1
                decode_context += known
                left = req.max_output_tokens - req.generated
                if left < remaining:
                    remaining = left
            else:
                chunks.append((n, computed))
                remaining = 0
            if computed + n == known:
                logits += 1
        batch = BatchShape(tuple(chunks), num_decode, decode_context, logits)
        return self.pricer.with_routing(batch), remaining

    def _fusable(self, scheduled: Scheduled, remaining: int) -> int:
        """How many iterations this batch stays unchanged for (1: do not fuse)."""
        sched = self.scheduler
        if self.max_fused_iterations <= 1 or remaining <= 1:
            return 1
        if len(scheduled.entries) != len(sched.running):
            return 1
        if sched.waiting and len(sched.running) < sched.max_num_seqs:
            return 1
        # Each request may need one more block every block_size tokens.
        per_request = self.kv.block_size * (self.kv.free_blocks // len(scheduled.entries))
        return max(1, min(remaining, per_request, self.max_fused_iterations))

    def _update(self, result: StepResult, now: float, k: int) -> None:
        end = now + result.duration_s
        kv = self.kv
        block_size = kv.block_size
        emitted = result.emitted
        for req, n in result.scheduled.entries:
            if req.first_scheduled_s is None:
                req.first_scheduled_s = now
            if k > 1:
                # A fused decode run: room for k tokens was checked by _fusable.
                extra = -(-(req.computed + k) // block_size) - req.num_blocks
                if extra > 0:
                    kv.free_blocks -= extra
                    req.num_blocks += extra
                req.computed += k
                req.generated += k
            else:
                req.computed += n
                if req.computed < req.prompt_tokens + req.generated:
                    continue  # a prefill chunk that does not finish the prompt
                req.generated += 1
            emitted.append(req)
            if req.first_token_s is None:
                req.first_token_s = end
                result.first_tokens.append(req)
            else:
                result.itl_samples += 1
            req.last_token_s = end
            if req.generated >= req.max_output_tokens:
                req.finish_s = end
                self.scheduler.finish(req)
                result.finished.append(req)
        kv.note_usage()


def _iterations_until(span: float, t0: float, slope: float, limit: int) -> int:
    """Iterations (at most `limit`) until the one that ends at or after `span` seconds."""
    if span == math.inf or t0 * limit + slope * limit * (limit - 1) / 2 <= span:
        return limit
    if slope <= 0:
        return max(1, min(limit, math.ceil(span / t0)))
    # smallest k with k*t0 + slope*k*(k-1)/2 >= span
    a, b = slope / 2, t0 - slope / 2
    k = math.ceil((-b + math.sqrt(b * b + 4 * a * span)) / (2 * a))
    return max(1, min(limit, k))


__all__ = ["Engine", "StepResult", "Status"]
