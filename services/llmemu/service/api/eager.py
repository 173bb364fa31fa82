"""Writing a response body through an ASGI `send` from plain synchronous code.

The engine loop publishes an iteration's tokens to every stream in one pass. Waking one task
per stream to write its chunk cost more than formatting and writing the chunk itself (a
queue, a task switch and an async generator per token per stream), so the publisher writes
directly: it runs `send` until the coroutine finishes or first has to wait. uvicorn's send
waits only under back-pressure (a client that does not read); such a send is finished by a
task, and chunks written meanwhile go out after it, in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]


class EagerWriter:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._backlog: deque[tuple[bytes, bool]] | None = None
        """Chunks behind a send that had to wait; None while nothing waits."""
        self._finishing: asyncio.Task[None] | None = None

    def write(self, body: bytes, more: bool = True) -> None:
        """Send one body chunk now (`more=False`: the last). An error of the send (a client
        gone, OSError) is raised here, or by `drain` if the send had to wait."""
        if self._backlog is not None:
            self._backlog.append((body, more))
            return
        coro = self._send({"type": "http.response.body", "body": body, "more_body": more})
        try:
            blocker = coro.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            return
        self._backlog = deque()
        self._finishing = asyncio.ensure_future(self._finish(coro, blocker))  # type: ignore[arg-type]

    async def drain(self) -> None:
        """Return once every chunk written so far has been sent."""
        if self._finishing is not None:
            await self._finishing

    async def _finish(self, coro: Coroutine[Any, Any, None], blocker: Any) -> None:
        await complete(coro, blocker)
        backlog = self._backlog
        while backlog:
            body, more = backlog.popleft()
            await self._send({"type": "http.response.body", "body": body, "more_body": more})
        self._backlog = None


async def complete(coro: Coroutine[Any, Any, Any], blocker: Any) -> Any:
    """Run a coroutine that has already yielded `blocker` to its end, as a Task would:
    wait for what it yielded (None: one turn of the loop), then resume it; a cancellation
    while waiting is thrown into it."""
    while True:
        try:
            if blocker is None:
                await asyncio.sleep(0)
            else:
                blocker._asyncio_future_blocking = False
                await asyncio.wait((blocker,))
        except BaseException as exc:  # cancelled while waiting: the coroutine gets to see it
            try:
                blocker = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            blocker = coro.send(None)
        except StopIteration as stop:
            return stop.value
