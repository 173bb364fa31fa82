"""Continuous batching under a token budget, as vLLM's v1 scheduler does it.

There are no prefill and decode phases: every request has `pending_tokens` still to
compute, and each iteration grants it a share of the budget. Running requests go first, in
arrival order; waiting requests are admitted while budget, sequence slots and KV blocks
last. When a running request cannot grow, the most recently admitted one is preempted and
recomputed later (its KV is dropped), as vLLM does by default.

Two ways to schedule one iteration, with the same decisions:
- `schedule()` walks every running request (the reference; it also handles budget and KV
  shortage, where the order of the running requests decides who gets what);
- `schedule_fast()` is what the engine calls: when every running request can have all it
  asks for (the budget covers it and the free blocks cover its growth), the order does not
  matter, so decoding requests are counted in aggregate (decoding.py) and only requests
  computing prompt tokens are visited. It answers None when it cannot decide that way.
Admission (`_admit`) is the one place a waiting request enters the batch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from llmemu.core.admission import check_admission, fits_projected_peak
from llmemu.core.decoding import DecodeSet
from llmemu.core.kvcache import KVCache
from llmemu.core.request import Request, Status


@dataclass(slots=True)
class Scheduled:
    """One iteration: the requests computing prompt tokens (`chunks`, with the tokens each
    computes), the decoding requests in aggregate, and who was preempted to make room.
    Never changed once built (not frozen: frozen dataclasses are slow to build, one a step)."""

    chunks: tuple[tuple[Request, int], ...] = ()
    num_decode: int = 0
    decode_context: int = 0
    """Summed context (prompt + generated) of the decoding requests."""
    preempted: tuple[Request, ...] = ()
    entries: tuple[tuple[Request, int], ...] | None = None
    """Every scheduled request with its tokens, in running order; only from `schedule()`
    or when the engine tracks every request (None otherwise)."""

    @property
    def empty(self) -> bool:
        return not self.chunks and not self.num_decode

    @property
    def num_tokens(self) -> int:
        return self.num_decode + sum(n for _, n in self.chunks)


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
        self.running: dict[Request, None] = {}
        """Admitted requests in admission order (a dict: ordered, O(1) removal)."""
        self.prefilling: dict[Request, None] = {}
        """The running requests not in `decode`, in admission order."""
        self.decode = DecodeSet(kv.block_size)
        self._admitted = 0

    def add(self, req: Request) -> None:
        self.waiting.append(req)

    def abort(self, req: Request) -> None:
        if req in self.running:
            self._remove(req)
        elif req in self.waiting:
            self.waiting.remove(req)
        self.kv.free(req)
        req.status = Status.ABORTED

    def finish(self, req: Request) -> None:
        self._remove(req)
        self.kv.free(req)
        req.status = Status.FINISHED

    def _remove(self, req: Request) -> None:
        if req.decode_offset is not None:
            self.decode.leave(req)
        else:
            del self.prefilling[req]
        del self.running[req]

    def _preempt(self, victim: Request) -> None:
        self._remove(victim)
        self.kv.free(victim)
        victim.computed = 0
        victim.num_preemptions += 1
        victim.status = Status.WAITING
        self.waiting.appendleft(victim)

    # ---- the aggregate path -----------------------------------------------------------
    def start_decoding(self, req: Request) -> None:
        """`req` finished its prompt (or recompute) and stays: count it in aggregate."""
        del self.prefilling[req]
        self.decode.enter(req)

    def schedule_fast(self, *, with_entries: bool = False) -> Scheduled | None:
        """The iteration when every running request gets all its pending tokens and its
        blocks; None when the budget or the free blocks fall short (use `schedule()`)."""
        decode, kv = self.decode, self.kv
        budget = self.max_num_batched_tokens - decode.count
        chunks: list[tuple[Request, int]] = []
        growth = decode.blocks_needed(decode.iteration, 1)
        block_size = kv.block_size
        for req in self.prefilling:
            n = req.prompt_tokens + req.generated - req.computed
            budget -= n
            growth += -(-(req.computed + n) // block_size) - req.num_blocks
            chunks.append((req, n))
        if budget < 0 or growth > kv.free_blocks:
            return None
        kv.free_blocks -= growth
        for req, n in chunks:
            req.num_blocks = -(-(req.computed + n) // block_size)
        kv.note_usage()
        if budget > 0:
            self._admit(budget, chunks)
        entries = None
        if with_entries:
            granted = dict(chunks)
            entries = tuple((req, granted.get(req, 1)) for req in self.running)
        return Scheduled(tuple(chunks), decode.count, decode.context, (), entries)

    def rebuild(self) -> None:
        """After a `schedule()` iteration: count the running decoders in aggregate again."""
        for req in list(self.prefilling):
            if req.generated and req.computed == req.prompt_tokens + req.generated - 1:
                self.start_decoding(req)

    # ---- the reference path -----------------------------------------------------------
    def schedule(self) -> Scheduled:
        """One iteration by walking every running request in order (each request's fields
        are written first, and every running request is in `prefilling` afterwards)."""
        for req in self.running:
            self.decode.leave(req)  # no-op for a request not counted in aggregate
        self.prefilling = dict.fromkeys(self.running)
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
            extra = -(-(req.computed + n) // block_size) - req.num_blocks
            if extra > 0:
                if extra <= kv.free_blocks:  # try_grow without the peak: noted below
                    kv.free_blocks -= extra
                    req.num_blocks += extra
                else:
                    n = self._make_room(req, n, preempted)
            if n:
                entries.append((req, n))
                budget -= n
        kv.note_usage()
        self._admit(budget, entries)
        return _classified(tuple(entries), tuple(preempted))

    def _make_room(self, req: Request, n: int, preempted: list[Request]) -> int:
        """Preempt from the back until `req` can grow by n tokens; 0 if `req` itself went."""
        while not self.kv.try_grow(req, req.computed + n):
            victim = next(reversed(self.running))
            self._preempt(victim)
            preempted.append(victim)
            if victim is req:
                return 0
        return n

    def _admit(self, budget: int, entries: list[tuple[Request, int]]) -> None:
        """Admit waiting requests while budget, sequence slots and KV blocks last."""
        kv = self.kv
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            req = self.waiting[0]
            n = min(req.pending_tokens, budget)
            if self.admission != "greedy":
                self.decode.sync_all(self.running)  # the projection reads every request
                if not fits_projected_peak(req, self.running, kv.num_blocks, kv.block_size):
                    break
            if not kv.try_grow(req, req.computed + n):
                break
            self.waiting.popleft()
            req.status = Status.RUNNING
            self._admitted += 1
            req.admission_order = self._admitted
            self.running[req] = None
            self.prefilling[req] = None
            entries.append((req, n))
            budget -= n


def _classified(entries: tuple[tuple[Request, int], ...], preempted: tuple[Request, ...]):
    """A `schedule()` iteration split into decoding requests (one token, the last known)
    and requests computing prompt tokens."""
    chunks = []
    num_decode = context = 0
    for req, n in entries:
        known = req.prompt_tokens + req.generated
        if n == 1 and req.computed == known - 1 and req.generated:
            num_decode += 1
            context += known
        else:
            chunks.append((req, n))
    return Scheduled(tuple(chunks), num_decode, context, preempted, entries)
