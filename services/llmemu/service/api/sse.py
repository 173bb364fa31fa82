"""Server-sent events as vLLM writes them (ecosystem.md section 1.5), and the ASGI response
that streams them and notices a client that leaves.

Chunks are rendered from a per-request prefix plus the changing part: the streaming hot path
runs once per token per client, and a test checks every shape against the pydantic chunk
types of protocol/openai.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable
from typing import Any

from starlette.responses import Response

DONE = "data: [DONE]\n\n"


def usage_json(prompt: int, completion: int) -> str:
    return (
        f'{{"prompt_tokens":{prompt},"total_tokens":{prompt + completion},'
        f'"completion_tokens":{completion}}}'
    )


class ChunkFormat:
    def __init__(self, *, chat: bool, rid: str, created: int, model: str) -> None:
        self.chat = chat
        obj = "chat.completion.chunk" if chat else "text_completion"
        self._head = (
            f'data: {{"id":"{rid}","object":"{obj}","created":{created},'
            f'"model":{json.dumps(model)},"choices":['
        )

    def role(self, index: int, usage: str | None = None) -> str:
        choice = f'{{"index":{index},"delta":{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}'  # fmt: skip
        return self._wrap(choice, usage)

    def content(
        self,
        index: int,
        text: str,
        finish_reason: str | None,
        usage: str | None = None,
        stop_reason: str | None = None,
    ) -> str:
        reason = "null" if finish_reason is None else f'"{finish_reason}"'
        stop = "null" if stop_reason is None else json.dumps(stop_reason)
        if self.chat:
            tail = f',"stop_reason":{stop}}}' if finish_reason is not None else "}"
            choice = f'{{"index":{index},"delta":{{"content":{json.dumps(text)}}},"logprobs":null,"finish_reason":{reason}{tail}'  # fmt: skip
        else:
            choice = f'{{"index":{index},"text":{json.dumps(text)},"logprobs":null,"finish_reason":{reason},"stop_reason":{stop}}}'  # fmt: skip
        return self._wrap(choice, usage)

    def usage(self, usage: str) -> str:
        return self._wrap("", usage)

    def _wrap(self, choice: str, usage: str | None) -> str:
        if usage is None:
            return f"{self._head}{choice}]}}\n\n"
        return f'{self._head}{choice}],"usage":{usage}}}\n\n'


def error_event(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body)}\n\n"


class EventStream(Response):
    """An ASGI response of `text/event-stream` chunks. A listener waits for the client's
    disconnect and calls `on_disconnect` at once (even while no token is due); at the end
    the body generator is closed and `on_close` called, even if the body never started."""

    def __init__(
        self,
        body: AsyncGenerator[str, None],
        on_disconnect: Callable[[], None],
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        # Not Response.__init__: nothing is rendered up front; FastAPI needs these two.
        self.status_code = 200
        self.background = None
        self.body_iterator = body
        self.on_disconnect = on_disconnect
        self.on_close = on_close

    async def __call__(self, scope, receive, send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
        ]
        listener = asyncio.get_running_loop().create_task(self._listen(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})  # fmt: skip
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            self.on_disconnect()
        finally:
            listener.cancel()
            await self.body_iterator.aclose()
            self.on_close()

    async def _listen(self, receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.on_disconnect()
                return
