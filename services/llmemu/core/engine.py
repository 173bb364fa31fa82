"""One replica's engine: schedule, price, update; plain data between the three verbs.

A step's cost does not grow with the batch: decoding requests are aggregates (decoding.py),
and a request is visited only on events (admitted, a prompt chunk computed, finished,
preempted, aborted). An iteration where the budget or the KV cache falls short is
scheduled by walking every running request in order (`Scheduler.schedule`), as vLLM does.

`step(now, horizon)` runs one iteration, or several fused into one step when nothing can
change the batch: a decode-only batch with nobody waiting to be admitted is stable until
its next completion, the next arrival (`horizon`) or the KV cache filling up. Each fused
iteration is still priced as its own iteration (duration interpolated between the first
and the last, which differ only by attention over a context that grows by one token per
request per iteration), so results do not depend on how iterations were grouped into steps.

`track_requests` (on by default, for the live server and the metrics that follow each
request) writes every running request's fields after each step and lists them in
`StepResult.emitted` and `Scheduled.entries`: that is O(batch) per step, so the offline
simulator turns it off and reads only `first_tokens` and `finished`.
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
    """Requests that produced tokens (one per iteration each); only with track_requests."""
    first_tokens: list[Request] = field(default_factory=list)
    finished: list[Request] = field(default_factory=list)
    itl_samples: int = 0
    """Decode tokens per iteration: the inter-token gaps this step observed each iteration."""
    cost: IterationCost | None = None
    batch: BatchShape | None = None
    """The first iteration's batch as the planner saw it."""
    num_emitted: int = 0
    """Requests that produced tokens (each one per iteration), tracked or not."""


class Engine:
    """Continuous batching over a priced plan; deterministic for a given seed."""

    def __init__(
        self,
        scheduler: Scheduler,
        pricer: PlanPricer,
        *,
        max_fused_iterations: int = 1 << 30,
        track_requests: bool = True,
    ) -> None:
        self.scheduler = scheduler
        self.pricer = pricer
        self.max_fused_iterations = max_fused_iterations
        self.track_requests = track_requests
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
        sched = self.scheduler
        scheduled = sched.schedule_fast(with_entries=self.track_requests)
        reference = scheduled is None
        if scheduled is None:
            scheduled = sched.schedule()
        if scheduled.empty:
            return None
        shape = self.pricer.with_routing(_shape(scheduled))
        first = self.pricer.price(shape)
        k, slope, cost = 1, 0.0, first
        limit = 1 if reference or scheduled.chunks else self._fusable()
        if limit > 1 and first.duration_s < horizon - now:  # else the next arrival ends it
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
        if reference:
            _update_each(sched, result, now)
            sched.decode.advance(1, now + duration)
            sched.rebuild()
        else:
            self._update(result, now, k)
        if self.track_requests:
            sched.decode.sync_all(sched.running)
        return result

    def _fusable(self) -> int:
        """How many iterations a decode-only batch stays unchanged for (1: do not fuse)."""
        sched = self.scheduler
        remaining = sched.decode.remaining()
        if self.max_fused_iterations <= 1 or remaining is None or remaining <= 1:
            return 1
        if sched.waiting and len(sched.running) < sched.max_num_seqs:
            return 1
        # Each request may need one more block every block_size tokens.
        per_request = self.kv.block_size * (self.kv.free_blocks // sched.decode.count)
        return max(1, min(remaining, per_request, self.max_fused_iterations))

    def _update(self, result: StepResult, now: float, k: int) -> None:
        """Apply a `schedule_fast` step: chunks one by one, decoders in aggregate."""
        sched, kv = self.scheduler, self.kv
        decode = sched.decode
        end = now + result.duration_s
        scheduled = result.scheduled
        result.itl_samples = result.num_emitted = scheduled.num_decode
        if k > 1:  # blocks for iterations 2..k (the first was taken by schedule_fast)
            kv.free_blocks -= decode.blocks_needed(decode.iteration + 1, k - 1)
            kv.note_usage()  # the run's peak: nobody finishes before its last iteration ends
        finished = result.finished
        emitters = []
        for req, n in scheduled.chunks:
            if _compute(sched, result, req, n, now, end):
                emitters.append(req)
        done = decode.advance(k, end)
        for req in emitters:  # after advance: they decode from the next iteration on
            if req.status is Status.RUNNING:
                sched.start_decoding(req)
        for req in done:
            req.finish_s = end
            sched.finish(req)
        if done:
            finished.extend(done)
            finished.sort(key=_admission_order)
        kv.note_usage()
        if self.track_requests:
            computing, sampled = {r for r, _ in scheduled.chunks}, set(emitters)
            result.emitted = [
                r for r, _ in scheduled.entries or () if r not in computing or r in sampled
            ]


def _shape(scheduled: Scheduled) -> BatchShape:
    """The batch as the planner sees it."""
    chunks = []
    logits = scheduled.num_decode
    for req, n in scheduled.chunks:
        computed = req.computed
        chunks.append((n, computed))
        if computed + n == req.prompt_tokens + req.generated:
            logits += 1
    return BatchShape(tuple(chunks), scheduled.num_decode, scheduled.decode_context, logits)


def _token(result: StepResult, req: Request, end: float) -> None:
    """`req` sampled a token at `end`."""
    if req.first_token_s is None:
        req.first_token_s = end
        result.first_tokens.append(req)
    else:
        result.itl_samples += 1
    req.last_token_s = end
    result.num_emitted += 1


def _update_each(sched: Scheduler, result: StepResult, now: float) -> None:
    """Apply a one-iteration `schedule()` step request by request (the reference)."""
    end = now + result.duration_s
    emitted = result.emitted
    for req, n in result.scheduled.entries or ():
        if _compute(sched, result, req, n, now, end):
            emitted.append(req)
    sched.kv.note_usage()


def _compute(sched: Scheduler, result: StepResult, req: Request, n: int, now: float, end: float) -> bool:  # fmt: skip
    """`req` computes `n` tokens in the iteration [now, end]; True if it sampled a token
    (False: a prefill chunk that does not finish the prompt)."""
    if req.first_scheduled_s is None:
        req.first_scheduled_s = now
    req.computed += n
    if req.computed < req.prompt_tokens + req.generated:
        return False
    req.generated += 1
    _token(result, req, end)
    if req.generated >= req.max_output_tokens:
        req.finish_s = end
        sched.finish(req)
        result.finished.append(req)
    return True


def _admission_order(req: Request) -> int:
    return req.admission_order


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
