"""Keeping request handling from delaying token emissions.

A request's handling on the event loop (parsing, checks, drawing its answer; its prompt is
tokenised in a worker thread) is short, but a closed-loop load sends its requests in bursts
(a batch finishes together, its clients all send again). Handled back to back, with their
prompts counted on the loop, 64 prompts of 512 tokens held it for ~35 ms, and every token
due in that time went out late. OnePerTurn lets one holder in per turn of the event loop, so the
engine's wake-up timer runs between two requests, not after all of them (ArrivalStamp in
middleware.py holds each request at the door until its turn).

A turn is not given while the engine's next burst of tokens is due sooner than a request's
handling takes (`reserve_s`): the request would hold the loop past the burst's moment and
every token in it would leave late. It waits until the burst is out (the engine has not
staged the next iteration yet: no burst is due) and is retried every `reserve_s` until then.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable

RESERVE_S = 0.002
"""Wall seconds a turn needs before the next burst: a 512-token chat request's handling
takes about 1.2 ms of the event loop (benchmarks/intake_cpu.py), a little more in the
middle of serving."""


def no_burst_due() -> float:
    return math.inf


class OnePerTurn:
    """An async context manager: at most one entry per event-loop iteration, in order, and
    none while a burst is due within `reserve_s` (`room_s`: wall seconds until the engine's
    next burst, inf when none is staged)."""

    def __init__(self, room_s: Callable[[], float] = no_burst_due, reserve_s: float = RESERVE_S) -> None:  # fmt: skip
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._used = False
        self.room_s, self.reserve_s = room_s, reserve_s

    async def __aenter__(self) -> None:
        if self._used or self._waiters or self.room_s() < self.reserve_s:
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            if not self._used:  # nobody will call _next_turn: the burst held this one back
                self._used = True
                self._next_turn()
            await fut  # granted by _next_turn, which has marked this turn used
            return
        self._take()

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _take(self) -> None:
        self._used = True
        # Runs in the next iteration: callbacks scheduled now wait for the loop to go
        # round, and the loop checks its timers (the engine's wake-up) on the way.
        asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        room_s = self.room_s()
        if room_s < self.reserve_s and self._waiters:  # the burst first; look again after it
            asyncio.get_running_loop().call_later(max(room_s, 0.0) + self.reserve_s, self._next_turn)  # fmt: skip
            return
        self._used = False
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.cancelled():
                self._take()
                fut.set_result(None)
                return
