"""The HTTP side of a request: admit it, hand its sequences to the scheduler through the
transport, and turn the token events that come back into an SSE stream or one JSON answer.

Every admitted request ends with its tokens or an explicit error; a client that leaves has
its unfinished sequences aborted (their KV blocks freed, counted as `abort`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from llmemu.protocol.internal import SubmitSequence, TokenEvent
from llmemu.protocol.openai import ChatCompletionRequest, CompletionRequest
from llmemu.service.api.errors import ApiError
from llmemu.service.api.jobs import Choice, Job
from llmemu.service.api.offload import OffLoop
from llmemu.service.api.responses import chat_response, completion_response
from llmemu.service.api.sse import ChunkFormat, EventStream
from llmemu.service.api.streaming import StreamSink
from llmemu.service.live.transport import Events, GatewayTransport


class Gateway:
    def __init__(
        self,
        *,
        model_names: list[str],
        transport: GatewayTransport,
        word_text: Callable[[int], str],
        lag_s: Callable[[float], float],
        on_lag: Callable[[float], None],
        on_rejected: Callable[[], None],
        max_waiting: int | None,
        retry_after_s: int,
        ensure_started: Callable[[], None],
        offload: OffLoop | None = None,
        turns: AbstractAsyncContextManager[None] | None = None,
    ) -> None:
        self.model_names = model_names
        self.transport = transport
        self.word_text = word_text
        self.lag_s = lag_s
        self.on_lag = on_lag
        self.on_rejected = on_rejected
        self.max_waiting = max_waiting
        self.retry_after_s = retry_after_s
        self.ensure_started = ensure_started
        self.offload = offload
        """Where a whole answer is rendered (its text grows with n x tokens); None: inline."""
        self.turns = turns
        """The event loop's turns clear of a burst (OnePerTurn), which a stream's response
        waits for to end; None: it ends at once."""
        self.in_flight = 0
        self._ids = random.Random()  # seeded from the OS: ids unique across gateways

    @classmethod
    def serving(cls, emu, transport: GatewayTransport, tok, clock, metrics, settings,
                ensure_started: Callable[[], None], offload: OffLoop | None = None,
                turns: AbstractAsyncContextManager[None] | None = None) -> Gateway:  # fmt: skip
        """The gateway of one emulated model, as the embedded server and the distributed
        gateway both build it: the tokenizer's words, the clock's lag, the metrics' hooks and
        the serving settings' queue limit."""
        return cls(
            model_names=[emu.served_model_name],
            transport=transport,
            word_text=tok.word_text,
            lag_s=clock.lag_s,
            on_lag=metrics.on_emission_lag,
            on_rejected=metrics.vllm.rejections.inc,
            max_waiting=settings.max_waiting,
            retry_after_s=settings.retry_after_s,
            ensure_started=ensure_started,
            offload=offload,
            turns=turns,
        )

    def new_job(self, chat: bool) -> Job:
        prefix = "chatcmpl" if chat else "cmpl"
        # 128 random bits as uuid4().hex has them, without its system call per request.
        return Job(f"{prefix}-{self._ids.getrandbits(128):032x}", chat, int(time.time()))

    def check_model(self, name: str | None) -> None:
        if name is not None and name not in self.model_names:
            raise ApiError(404, f"The model `{name}` does not exist.", param="model", err_type="NotFoundError")  # fmt: skip

    def admit(self, job: Job) -> None:
        if self.max_waiting is None:
            return
        waiting = self.transport.load().num_waiting
        if waiting + len(job.choices) > self.max_waiting:
            self.on_rejected()
            raise ApiError(
                429,
                f"The server has {waiting} sequences waiting and takes at most "
                f"{self.max_waiting}; this request adds {len(job.choices)}. Retry later.",
                headers={"Retry-After": str(self.retry_after_s)},
            )

    async def serve(
        self,
        job: Job,
        req: CompletionRequest | ChatCompletionRequest,
        request: Request,
        arrival_s: float,
    ) -> Response:
        self.admit(job)
        self.ensure_started()
        # Subscribing right after submitting loses nothing: events come from the engine
        # loop or the bus reader, which cannot run before this handler next awaits.
        self.transport.submit([_submit(job, c, arrival_s) for c in job.choices])
        self.in_flight += 1
        model = req.model or self.model_names[0]
        if req.stream:
            sink = self._sink(job, req, model)
            self.transport.subscribe(job.rid, sink)
            return EventStream(
                sink.run,
                on_disconnect=lambda: sink.put_nowait(None),
                on_close=lambda: self._close(job, sink.pending),
            )
        queue = self.transport.subscribe(job.rid)
        return await self._collect(job, queue, request, model)  # type: ignore[arg-type]

    def _sink(self, job: Job, req: CompletionRequest | ChatCompletionRequest, model: str) -> StreamSink:  # fmt: skip
        opts = req.stream_options
        return StreamSink(
            job,
            {c.seq_id: c for c in job.choices},
            ChunkFormat(chat=job.chat, rid=job.rid, created=job.created, model=model),
            self._advance,
            include_usage=bool(opts and (opts.include_usage or opts.continuous_usage_stats)),
            continuous_usage=bool(opts and opts.continuous_usage_stats),
            lag_s=self.lag_s,
            on_lag=self.on_lag,
            end_turn=self.turns,
        )

    # ---- both ---------------------------------------------------------------------------
    def _advance(self, choice: Choice, ev: TokenEvent, pending: dict[str, Choice]) -> tuple[str, int]:  # fmt: skip
        before, after = choice.generated, ev.generated
        choice.generated = after
        if ev.finish_reason is not None:
            choice.finish_reason = ev.finish_reason
            choice.error = ev.error
            del pending[choice.seq_id]
        return choice.text(before, after, self.word_text), after - before

    def _close(self, job: Job, pending: dict[str, Choice]) -> None:
        """End the request's business with the scheduler, once, however the response ended
        (a stream's response calls it even if its body never started)."""
        if job.closed:
            return
        job.closed = True
        self.transport.unsubscribe(job.rid)
        if pending:
            self.transport.abort(list(pending))
        self.in_flight -= 1

    # ---- one JSON answer --------------------------------------------------------------
    async def _collect(
        self, job: Job, queue: asyncio.Queue[Events], request: Request, model: str
    ) -> Response:
        pending = {c.seq_id: c for c in job.choices}
        listener = asyncio.get_running_loop().create_task(_on_disconnect(request, queue))
        try:
            while pending:
                events = await queue.get()
                if events is None:
                    return Response(status_code=499)  # nobody is listening any more
                for ev in events:
                    choice = pending.get(ev.seq_id)
                    if choice is not None:
                        lag = self.lag_s(ev.time_s)
                        for _ in range(self._advance(choice, ev, pending)[1]):
                            self.on_lag(lag)
                        if ev.error is not None:
                            raise ApiError(ev.status, ev.error)
        finally:
            listener.cancel()
            self._close(job, pending)
        if self.offload is None:
            return self._answer(job, model)
        return await self.offload.run(self._answer, job, model)

    def _answer(self, job: Job, model: str) -> JSONResponse:
        texts = [c.text(0, c.generated, self.word_text) for c in job.choices]
        build = chat_response if job.chat else completion_response
        body: dict[str, Any] = build(job, texts, model)
        return JSONResponse(body)


async def _on_disconnect(request: Request, queue: asyncio.Queue[Events]) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            queue.put_nowait(None)
            return


def _submit(job: Job, choice: Choice, arrival_s: float) -> SubmitSequence:
    return SubmitSequence(
        seq_id=choice.seq_id,
        reply_to=job.rid,
        prompt_tokens=choice.prompt_tokens,
        output_tokens=choice.draw.output_tokens,
        arrival_s=arrival_s,
        finish_reason=choice.draw.finish_reason,
        params_max_tokens=job.params_max_tokens,
        params_n=job.n,
        prompt_token_ids=choice.prompt_ids,
    )
