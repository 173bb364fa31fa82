"""Keeping request handling from delaying token emissions.

A request's handling on the event loop (parsing, checks, drawing its answer; its prompt is
tokenised in a worker thread) is short, but a closed-loop load sends its requests in bursts
(a batch finishes together, its clients all send again). Handled back to back, with their
prompts counted on the loop, 64 prompts of 512 tokens held it for ~35 ms, and every token
due in that time went out late. OnePerTurn lets one holder in per turn of the event loop, so the
engine's wake-up timer runs between two requests, not after all of them (ArrivalStamp in
middleware.py holds each request at the door until its turn).
"""

from __future__ import annotations

import asyncio
from collections import deque


class OnePerTurn:
    """An async context manager: at most one entry per event-loop iteration, in order."""

    def __init__(self) -> None:
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._used = False

    async def __aenter__(self) -> None:
        if self._used or self._waiters:
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
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
        self._used = False
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.cancelled():
                self._take()
                fut.set_result(None)
                return
