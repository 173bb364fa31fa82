"""The decoding requests of a batch as aggregates, so that a decode iteration costs the same
at batch 1 and batch 1,000.

A request that has sampled a token and has exactly one token to compute (its last) gains
one token of KV and one generated token every iteration until it finishes or is preempted.
While it does, its counts are a fixed offset from the engine's iteration counter T:
computed = T + offset, generated = computed + 1 - prompt. So the set keeps only sums
(count, summed context, count by offset modulo the block size) and a heap of the iteration
at which each member finishes; a member's own fields are written (`sync`) only on events
(finish, preemption, abort) or for a caller that asks for every request (`sync_all`).

KV growth is arithmetic: a member holding c tokens needs a new block in the iteration that
computes token c + 1 when c is a multiple of block_size, i.e. at iterations T with
(T + offset) % block_size == 0.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from llmemu.core.request import Request


class DecodeSet:
    def __init__(self, block_size: int) -> None:
        self.block_size = block_size
        self.iteration = 0
        """Iterations completed (T)."""
        self.count = 0
        self.last_end_s = 0.0
        """When the last iteration ended: every member's last token."""
        self._context_base = 0
        self._by_residue = [0] * block_size
        self._finish: list[tuple[int, int, int, Request]] = []
        """(iteration at whose start the member is done, admission order, entry number,
        member); an entry is stale once its member left (the numbers differ)."""
        self._entries = 0

    # ---- membership (events) ----------------------------------------------------------
    def enter(self, req: Request) -> None:
        """`req` has computed all but its last known token and sampled at least one."""
        offset = req.computed - self.iteration
        req.decode_offset = offset
        self.count += 1
        self._context_base += offset + 1
        self._by_residue[offset % self.block_size] += 1
        done_at = req.max_output_tokens + req.prompt_tokens - 1 - offset
        self._entries += 1
        req.decode_entry = self._entries
        heapq.heappush(self._finish, (done_at, req.admission_order, self._entries, req))

    def leave(self, req: Request) -> None:
        """Write `req`'s fields and take it out of the sums (its heap entry goes stale);
        nothing for a request that is not a member."""
        offset = req.decode_offset
        if offset is None:
            return
        self.sync(req)
        self.count -= 1
        self._context_base -= offset + 1
        self._by_residue[offset % self.block_size] -= 1
        req.decode_offset = None

    def sync(self, req: Request) -> None:
        """Bring `req`'s token counts, blocks and last token time up to iteration T."""
        offset = req.decode_offset
        if offset is None:
            return
        computed = self.iteration + offset
        req.computed = computed
        req.generated = computed + 1 - req.prompt_tokens
        req.num_blocks = -(-computed // self.block_size)
        req.last_token_s = self.last_end_s

    def sync_all(self, requests: Iterable[Request]) -> None:
        for req in requests:
            self.sync(req)

    # ---- aggregates -------------------------------------------------------------------
    @property
    def context(self) -> int:
        """Summed context (prompt + generated) the members attend to in the next iteration."""
        return self.count * self.iteration + self._context_base

    def blocks_needed(self, first: int, k: int) -> int:
        """New blocks the members need over iterations first .. first + k - 1."""
        size = self.block_size
        full, part = divmod(k, size)
        total = full * self.count
        by_residue = self._by_residue
        for j in range(part):
            total += by_residue[-(first + j) % size]
        return total

    def remaining(self) -> int | None:
        """Fewest iterations until a member finishes (None: no member)."""
        heap = self._finish
        while heap and not _current(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] - self.iteration if heap else None

    def advance(self, k: int, end_s: float) -> list[Request]:
        """k iterations ended at end_s; the members done then (synced; still members until
        the scheduler finishes them), in admission order."""
        self.iteration += k
        self.last_end_s = end_s
        heap, done = self._finish, []
        while heap and heap[0][0] <= self.iteration:
            entry = heapq.heappop(heap)
            if _current(entry):
                self.sync(entry[3])
                done.append(entry[3])
        return done


def _current(entry: tuple[int, int, int, Request]) -> bool:
    """Whether a heap entry still describes its member (it has not left since)."""
    req = entry[3]
    return req.decode_offset is not None and req.decode_entry == entry[2]
