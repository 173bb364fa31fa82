"""Continuous batching under a token budget, as vLLM's v1 scheduler does it.

There are no prefill and decode phases: every request has `pending_tokens` still to
compute, and each iteration grants it a share of the budget. Running requests go first, in
arrival order; waiting requests are admitted while budget, sequence slots and KV blocks
last. When a running request cannot grow, the most recently admitted one is preempted and
recomputed later (its KV is dropped), as vLLM does by default.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from llmemu.core.admission import check_admission, fits_projected_peak
from llmemu.core.kvcache import KVCache
from llmemu.core.request import Request, Status


@dataclass(frozen=True, slots=True)
class Scheduled:
    """The requests of one iteration and the tokens each computes."""

    entries: tuple[tuple[Request, int], ...]
    preempted: tuple[Request, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.entries


class Scheduler:
    def __init__(
        self,
        kv: KVCache,
        *,
        max_num_seqs: int,
        max_num_batched_tokens: int,
        admission: str = "greedy",
    ) -> None:
        self.kv = kv
        self.admission = check_admission(admission)
        """greedy (vLLM) or projected-peak (NanoFlow): admission.py."""
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []

    def add(self, req: Request) -> None:
        self.waiting.append(req)

    def abort(self, req: Request) -> None:
        if req in self.running:
            self.running.remove(req)
        elif req in self.waiting:
            self.waiting.remove(req)
        self.kv.free(req)
        req.status = Status.ABORTED

    def finish(self, req: Request) -> None:
        self.running.remove(req)
        self.kv.free(req)
        req.status = Status.FINISHED

    def _preempt(self, victim: Request) -> None:
        self.running.remove(victim)
        self.kv.free(victim)
        victim.computed = 0
        victim.num_preemptions += 1
        victim.status = Status.WAITING
        self.waiting.appendleft(victim)

    def schedule(self) -> Scheduled:
        budget = self.max_num_batched_tokens
        entries: list[tuple[Request, int]] = []
        preempted: list[Request] = []
        kv = self.kv
        block_size = kv.block_size
        running = Status.RUNNING
        for req in list(self.running):
            if budget <= 0:
                break
            if req.status is not running:
                continue  # preempted by an earlier request of this loop
            pending = req.prompt_tokens + req.generated - req.computed
            n = pending if pending < budget else budget
            # Inline KVCache.try_grow: this loop runs for every request of every iteration.
            extra = -(-(req.computed + n) // block_size) - req.num_blocks
            if extra > 0:
                if extra <= kv.free_blocks:
                    kv.free_blocks -= extra
                    req.num_blocks += extra
                else:
                    n = self._make_room(req, n, preempted)
            if n:
                entries.append((req, n))
                budget -= n
        kv.note_usage()
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            req = self.waiting[0]
            n = min(req.pending_tokens, budget)
            if self.admission != "greedy" and not fits_projected_peak(
                req, self.running, kv.num_blocks, block_size
            ):
                break
            if not kv.try_grow(req, req.computed + n):
                break
            self.waiting.popleft()
            req.status = running
            self.running.append(req)
            entries.append((req, n))
            budget -= n
        return Scheduled(tuple(entries), tuple(preempted))

    def _make_room(self, req: Request, n: int, preempted: list[Request]) -> int:
        """Preempt from the back until `req` can grow by n tokens; 0 if `req` itself went."""
        while not self.kv.try_grow(req, req.computed + n):
            victim = self.running[-1]
            self._preempt(victim)
            preempted.append(victim)
            if victim is req:
                return 0
        return n
