"""An ASGI `send` for tests of the response writers: it records each body chunk."""

from __future__ import annotations

import asyncio


class Peer:
    """Records (body, more_body) per send; while `paused` is set, a send waits until it is."""

    def __init__(self) -> None:
        self.bodies: list[tuple[bytes, bool]] = []
        self.paused: asyncio.Event | None = None

    async def send(self, message: dict) -> None:
        if self.paused is not None:
            await self.paused.wait()
        self.bodies.append((message["body"], message["more_body"]))
