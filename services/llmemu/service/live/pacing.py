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
every token in it would leave late. The turn waits for that burst to be out and is then
given whatever the next burst leaves, so that a request waits one burst at most, however
short the iterations (a fast `--speed`).

A stream's response ends on a turn too (StreamSink.run), of a gate of its own, so that ends
never hold a request back: its end and the layers unwinding after it take a quarter to half
a millisecond, and requests finishing fifteen an iteration otherwise pushed each burst later
than the last.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Protocol

RESERVE_S = 0.002
"""Wall seconds a turn needs before the next burst: a 512-token chat request's handling
takes about 1.2 ms of the event loop (benchmarks/intake_cpu.py), a little more in the
middle of serving."""


class Bursts(Protocol):
    """The engine's bursts of tokens, as the gate sees them (SchedulerService)."""

    def room_s(self) -> float:
        """Wall seconds until the staged burst begins; inf when none is staged."""
        ...

    def after_burst(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the staged burst is out (at once if none is staged)."""
        ...


class OnePerTurn:
    """An async context manager: at most one entry per event-loop iteration, in order, and
    none while one of the engine's bursts is due within `reserve_s`."""

    def __init__(self, bursts: Bursts | None = None, reserve_s: float = RESERVE_S) -> None:
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._used = False
        self.bursts, self.reserve_s = bursts, reserve_s

    async def __aenter__(self) -> None:
        if self._used or self._waiters or self._burst_near():
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            if not self._used:  # no turn is coming: the burst held this one back
                self._used = True
                self._next_turn()
            await fut  # granted by _next_turn, which has marked this turn used
            return
        self._take()

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _burst_near(self) -> bool:
        return self.bursts is not None and self.bursts.room_s() < self.reserve_s

    def _take(self) -> None:
        self._used = True
        # Runs in the next iteration: callbacks scheduled now wait for the loop to go
        # round, and the loop checks its timers (the engine's wake-up) on the way.
        asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self, burst_out: bool = False) -> None:
        if self._waiters and not burst_out and self._burst_near():
            # Called as the burst goes out, before the engine loop steps again: the request
            # let in then reaches the engine in time for the next iteration.
            self.bursts.after_burst(lambda: self._next_turn(True))  # type: ignore[union-attr]
            return
        self._used = False
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.cancelled():
                self._take()
                fut.set_result(None)
                return
