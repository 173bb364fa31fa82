"""One streaming request's subscription: token events in, SSE chunks out, one write per
iteration per stream.

The engine loop formats an iteration's chunks while it waits for the iteration to end
(`prepare`) and writes them all when it does (the call `prepare` returns), so the burst at
each iteration's end is the socket writes and little else. A network transport delivers
events as they come (`put_nowait`: formatted and written at once). Events that come before
the response has started are held until it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext, suppress
from functools import partial

from llmemu.protocol.internal import TokenEvent
from llmemu.service.api.eager import EagerWriter
from llmemu.service.api.errors import TYPES, error_body
from llmemu.service.api.jobs import Choice, Job
from llmemu.service.api.sse import DONE, ChunkFormat, error_event, usage_json
from llmemu.service.live.transport import Events

Advance = Callable[[Choice, TokenEvent, dict[str, Choice]], tuple[str, int]]
"""The gateway's step of one choice: (text of the new tokens, how many), pending updated."""


def _nothing() -> None:
    return None


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
        lag_s: Callable[[float], float],
        on_lag: Callable[[float], None],
        end_turn: AbstractAsyncContextManager[None] | None = None,
    ) -> None:
        self.job, self.pending, self.fmt, self.advance = job, pending, fmt, advance
        self.include_usage, self.continuous_usage = include_usage, continuous_usage
        self.lag_s, self.on_lag = lag_s, on_lag
        """Wall seconds a token left after its emulated moment; called once per token."""
        self.end_turn = nullcontext() if end_turn is None else end_turn
        """Entered before the response ends (OnePerTurn: a turn of the loop clear of a burst)."""
        self.prompt = job.prompt_tokens  # a sum over the choices: once, not per token
        self._role = ""
        """A chat stream's role chunks, written just before its first token (`_opening`)."""
        if fmt.chat:
            usage = usage_json(self.prompt, 0) if continuous_usage else None
            self._role = "".join(fmt.role(c.index, usage) for c in job.choices)
        self.completion = 0
        self._writer: EagerWriter | None = None
        self._early: list[Events] = []
        self._ended: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        """Done when the stream has ended: True if run() must still end the response."""

    # ---- the transport's side (Subscriber) ------------------------------------------------
    def put_nowait(self, events: Events) -> None:
        self.prepare(events)()

    def prepare(self, events: Events) -> Callable[[], None]:
        """Format `events` now; the call returned writes them. The choices' progress moves
        here, so the engine loop calls what this returns before it prepares again (and on
        shutdown, before it fails what is left)."""
        if self._ended.done():
            return _nothing
        if self._writer is None:
            return partial(self._early.append, events)
        if events is None:  # the client left, or the server is closing
            return partial(self._end, None)
        if len(events) == 1 and not self.continuous_usage:  # one choice's ordinary token(s)
            ev = events[0]
            choice = self.pending.get(ev.seq_id)
            if choice is not None and ev.finish_reason is None and ev.error is None:
                try:
                    text, new = self.advance(choice, ev, self.pending)
                    self.completion += new
                    chunk = self.fmt.token(choice.index, text)
                    body = (self._opening() + chunk if self._role else chunk).encode()
                except Exception as exc:  # raised in the response's task
                    return partial(self._fail, exc)
                return partial(self._emit, body, new, ev.time_s)
        return self._prepare_any(events)

    def _prepare_any(self, events: list[TokenEvent]) -> Callable[[], None]:
        """`prepare` of any events: several choices, a last token, an error, usage."""
        fmt, pending, parts, tokens = self.fmt, self.pending, [], 0
        try:
            for ev in events:
                choice = pending.get(ev.seq_id)
                if choice is None:
                    continue
                if ev.error is not None:
                    body = error_body(ev.status, ev.error, TYPES.get(ev.status, "InternalServerError"))  # fmt: skip
                    parts.append(error_event(body))
                    return partial(self._write, ("".join(parts) + DONE).encode(), tokens, True, ev.time_s)  # fmt: skip
                text, new = self.advance(choice, ev, pending)
                if self._role:
                    parts.append(self._opening())
                self.completion += new
                tokens += new
                usage = usage_json(self.prompt, self.completion) if self.continuous_usage else None  # fmt: skip
                parts.append(fmt.content(choice.index, text, ev.finish_reason, usage, choice.stop_reason))  # fmt: skip
            if not pending:
                if self.include_usage:
                    parts.append(fmt.usage(usage_json(self.prompt, self.completion)))
                parts.append(DONE)
            elif not parts:
                return _nothing
        except Exception as exc:  # raised in the response's task, not in the publisher's
            return partial(self._fail, exc)
        return partial(self._write, "".join(parts).encode(), tokens, not pending, events[0].time_s)  # fmt: skip

    def _opening(self) -> str:
        """The role chunks, once. vLLM sends them when the request's first output comes (with
        its first token), not when the response starts: a client that stamps TTFT at the
        first chunk with choices (`vllm bench serve`) must see the prefill's time there.
        An error before any token comes without them, as vLLM's."""
        role, self._role = self._role, ""
        return role

    # ---- the response's side ----------------------------------------------------------
    async def run(self, writer: EagerWriter) -> None:
        """EventStream's body: write what is ready, then return once the stream has ended."""
        self._writer = writer
        early, self._early = self._early, []
        for events in early:
            self.put_nowait(events)
        if await self._ended:  # the last tokens left with their iteration: end the response
            # Its end, and the layers unwinding after it (the HTTP metrics, the request's
            # bookkeeping), take 0.25-0.45 ms of the loop: at 300 streams, requests finishing
            # fifteen an iteration held it for 4-5 ms between bursts and every burst after
            # began later than the one before. It waits for a turn clear of a burst, as a
            # request's intake does; its last chunk and [DONE] have left with their tokens.
            async with self.end_turn:
                writer.write(b"", more=False)

    # ---- writing -----------------------------------------------------------------------
    def _emit(self, body: bytes, tokens: int, due_s: float) -> None:
        """Write a chunk that does not end the stream: the one written once per token per
        stream in the iteration's burst, so it does no more than that."""
        if self._ended.done():
            return
        self._lags(due_s, tokens)
        try:
            self._writer.write(body)  # type: ignore[union-attr]
        except OSError:  # the client is gone: nothing more to write
            self._end(None)

    def _lags(self, due_s: float, tokens: int) -> None:
        """Each of `tokens` tokens due at `due_s` leaves now: how late."""
        if tokens == 1:
            self.on_lag(self.lag_s(due_s))
        elif tokens:
            lag = self.lag_s(due_s)
            for _ in range(tokens):
                self.on_lag(lag)

    def _write(self, body: bytes, tokens: int, last: bool, due_s: float) -> None:
        self._emit(body, tokens, due_s)
        if last and not self._ended.done():  # written, and not ended meanwhile
            # The response's end (uvicorn's last send, its keep-alive bookkeeping, the
            # layers unwinding) waits for the response's own task, after the burst: a wave of
            # requests finishing together had tripled the burst of the iteration they end in.
            self._ended.set_result(True)

    def _fail(self, exc: Exception) -> None:
        if not self._ended.done():
            self._ended.set_exception(exc)

    def _end(self, body: bytes | None) -> None:
        """Write `body` as the last chunk (None: nothing more) and end the stream."""
        if not self._ended.done():
            self._ended.set_result(False)  # ended here: nothing left for run() to write
        with suppress(OSError):  # the client is gone: nobody to tell
            self._writer.write(b"" if body is None else body, more=False)  # type: ignore[union-attr]
