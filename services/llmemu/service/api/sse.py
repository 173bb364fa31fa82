"""Server-sent events as vLLM writes them (ecosystem.md section 1.5), and the ASGI response
that streams them and notices a client that leaves.

Chunks are rendered from a per-request prefix plus the changing part: the streaming hot path
runs once per token per client, and a test checks every shape against the pydantic chunk
types of protocol/openai.py. JSON strings are escaped by the stdlib's C encoder, which is
what json.dumps calls for a str (a fifth of json.dumps's time, and quicker than orjson's
dumps, which also returns bytes to decode).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from json.encoder import encode_basestring_ascii as json_string  # type: ignore[attr-defined]
from typing import Any

from starlette.responses import Response

from llmemu.service.api.direct import BODY_SEND, body_writer
from llmemu.service.api.eager import EagerWriter

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
        self._token_head: dict[int, str] = {}
        """Per choice index, everything before an ordinary token's text."""
        self._token_tail = '},"logprobs":null,"finish_reason":null}]}\n\n'
        if not chat:
            self._token_tail = ',"logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n'

    def token(self, index: int, text: str) -> str:
        """The chunk of an ordinary token: neither the last nor carrying usage."""
        head = self._token_head.get(index)
        if head is None:
            field = '"delta":{"content":' if self.chat else '"text":'
            head = self._token_head[index] = f'{self._head}{{"index":{index},{field}'
        return head + json_string(text) + self._token_tail

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
        if finish_reason is None and usage is None:  # every token but the last
            return self.token(index, text)
        reason = "null" if finish_reason is None else f'"{finish_reason}"'
        stop = "null" if stop_reason is None else json_string(stop_reason)
        if self.chat:
            tail = f',"stop_reason":{stop}}}' if finish_reason is not None else "}"
            choice = f'{{"index":{index},"delta":{{"content":{json_string(text)}}},"logprobs":null,"finish_reason":{reason}{tail}'  # fmt: skip
        else:
            choice = f'{{"index":{index},"text":{json_string(text)},"logprobs":null,"finish_reason":{reason},"stop_reason":{stop}}}'  # fmt: skip
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
    """An ASGI response of `text/event-stream` chunks, written by `body` through an
    EagerWriter (so a publisher can write it without waking this task). A listener waits
    for the client's disconnect and calls `on_disconnect` at once (even while no token is
    due); `body` returns once it has written its last chunk, and `on_close` is called
    however the response ended, even if the body never started."""

    def __init__(
        self,
        body: Callable[[EagerWriter], Awaitable[None]],
        on_disconnect: Callable[[], None],
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        # Not Response.__init__: nothing is rendered up front; FastAPI needs these two.
        self.status_code = 200
        self.background = None
        self.body = body
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
            writer = body_writer(scope.get(BODY_SEND, send))
            await self.body(writer)
            await writer.drain()
        except OSError:
            self.on_disconnect()
        finally:
            listener.cancel()
            self.on_close()

    async def _listen(self, receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.on_disconnect()
                return
