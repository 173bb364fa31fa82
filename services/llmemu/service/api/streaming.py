"""One streaming request's subscription: token events in, SSE chunks out, written as they are
published (one write per iteration per stream).

The transport calls `put_nowait` with each iteration's events for this request; the chunks
are formatted and written there and then through the response's EagerWriter, so the engine
loop's one pass over an iteration's streams is what hands every token out. Events that come
before the response has started are held until it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress

from llmemu.protocol.internal import TokenEvent
from llmemu.service.api.eager import EagerWriter
from llmemu.service.api.errors import TYPES, error_body
from llmemu.service.api.jobs import Choice, Job
from llmemu.service.api.sse import DONE, ChunkFormat, error_event, usage_json
from llmemu.service.live.transport import Events

Advance = Callable[[Choice, TokenEvent, dict[str, Choice]], tuple[str, int]]
"""The gateway's step of one choice: (text of the new tokens, how many), pending updated."""


class StreamSink:
    def __init__(
        self,
        job: Job,
        pending: dict[str, Choice],
        fmt: ChunkFormat,
        advance: Advance,
        *,
        include_usage: bool,
        continuous_usage: bool,
    ) -> None:
        self.job, self.pending, self.fmt, self.advance = job, pending, fmt, advance
        self.include_usage, self.continuous_usage = include_usage, continuous_usage
        self.prompt = job.prompt_tokens  # a sum over the choices: once, not per token
        self.completion = 0
        self._writer: EagerWriter | None = None
        self._early: list[Events] = []
        self._ended = asyncio.get_running_loop().create_future()

    # ---- the transport's side (Subscriber) ------------------------------------------------
    def put_nowait(self, events: Events) -> None:
        if self._ended.done():
            return
        if self._writer is None:
            self._early.append(events)
            return
        try:
            self._deliver(events)
        except OSError:  # the client is gone: nothing more to write
            self._end(None)
        except Exception as exc:  # raised in the response's task, not in the publisher's
            if not self._ended.done():
                self._ended.set_exception(exc)

    # ---- the response's side ----------------------------------------------------------
    async def run(self, writer: EagerWriter) -> None:
        """EventStream's body: write what is ready, then return once the stream has ended."""
        self._writer = writer
        if self.fmt.chat:
            usage = usage_json(self.prompt, 0) if self.continuous_usage else None
            writer.write("".join(self.fmt.role(c.index, usage) for c in self.job.choices).encode())  # fmt: skip
        early, self._early = self._early, []
        for events in early:
            self.put_nowait(events)
        await self._ended

    # ---- formatting -------------------------------------------------------------------
    def _deliver(self, events: Events) -> None:
        if events is None:  # the client left, or the server is closing
            self._end(None)
            return
        fmt, prompt, parts = self.fmt, self.prompt, []
        for ev in events:
            choice = self.pending.get(ev.seq_id)
            if choice is None:
                continue
            if ev.error is not None:
                body = error_body(ev.status, ev.error, TYPES.get(ev.status, "InternalServerError"))  # fmt: skip
                parts.append(error_event(body))
                self._end(parts)
                return
            text, new = self.advance(choice, ev, self.pending)
            self.completion += new
            usage = usage_json(prompt, self.completion) if self.continuous_usage else None
            parts.append(fmt.content(choice.index, text, ev.finish_reason, usage, choice.stop_reason))  # fmt: skip
        if not self.pending:
            if self.include_usage:
                parts.append(fmt.usage(usage_json(prompt, self.completion)))
            self._end(parts)
        elif parts:
            self._writer.write("".join(parts).encode())  # type: ignore[union-attr]

    def _end(self, parts: list[str] | None) -> None:
        """Write the last chunk (`parts` and [DONE]; None: nothing more) and end the stream."""
        self._ended.set_result(None)
        body = b"" if parts is None else ("".join(parts) + DONE).encode()
        with suppress(OSError):  # the client is gone: nobody to tell
            self._writer.write(body, more=False)  # type: ignore[union-attr]
