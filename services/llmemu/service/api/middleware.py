"""Plain ASGI middleware in front of the routes: API keys and the body limits.

Plain ASGI (not BaseHTTPMiddleware) so that streamed responses pass through untouched."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from llmemu.service.api.direct import BODY_SEND
from llmemu.service.api.errors import TYPES, error_body
from llmemu.service.live.pacing import OnePerTurn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(send: Send, status: int, message: str, headers=()) -> None:
    body = json.dumps(error_body(status, message, TYPES.get(status, "Error"))).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw + list(headers)})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body parsing re-raises it as it is (it turns
    other exceptions into a 400) and the envelope handler answers 413 (a body is only read
    before any response has started)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message, headers={"Connection": "close"})


class GuardMiddleware:
    """401 without a valid Bearer key on /v1 paths (when keys are set, as vLLM does);
    413 for bodies over `max_body_bytes`, by Content-Length or while the body streams in,
    and for bodies of more than `max_body_items` JSON items (counted by their commas, in C,
    as the body arrives). Parsing holds the GIL, so the event loop too, for about 2 us per
    item on a busy 2-core machine whichever thread parses: 200,000 items (a chat of 100,000
    messages) held every stream and /health for half a second."""

    def __init__(
        self, app: ASGIApp, *, api_keys: list[str], max_body_bytes: int, max_body_items: int
    ) -> None:
        self.app = app
        self.keys = {f"Bearer {k}".encode() for k in api_keys}
        self.max_body_bytes = max_body_bytes
        self.max_body_items = max_body_items

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        guarded = self.keys and scope["path"].startswith("/v1") and scope["method"] != "OPTIONS"
        if guarded and headers.get(b"authorization") not in self.keys:
            await send_error(send, 401, "Unauthorized: give a valid API key as 'Authorization: Bearer <key>'")  # fmt: skip
            return
        length = headers.get(b"content-length")
        limit = self.max_body_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            # The body is left unread, so the connection cannot carry another request.
            await send_error(send, 413, f"Request body has {int(length)} bytes; the limit is {limit}", [(b"connection", b"close")])  # fmt: skip
            return
        received = commas = 0

        async def counting_receive() -> Message:
            nonlocal received, commas
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                commas += chunk.count(b",")
                if received > limit:
                    raise _TooLarge(f"Request body is over the limit of {limit} bytes")
                if commas >= self.max_body_items:
                    raise _TooLarge(f"Request body has more than {self.max_body_items} JSON items (counted by commas); the limit is {self.max_body_items}. Split the request or raise --max-body-items")  # fmt: skip
            return message

        await self.app(scope, counting_receive, send)


class ArrivalStamp:
    """Outermost layer: stamp each request's emulated arrival as it enters, before parsing
    (vLLM stamps arrival at its frontend too), then let requests on one per event-loop turn.

    The first yield lets every request whose bytes came in together be stamped before any
    of them is parsed; the turn gate (OnePerTurn) then spaces their handling out, so the
    engine's wake-up timer runs between two requests. Handled back to back, a closed-loop
    burst of 64 requests with 512-token prompts held the loop ~60 ms and every token due in
    that time went out late.

    It also leaves the server's own `send` in the scope (BODY_SEND), for a stream's body.
    """

    def __init__(self, app: ASGIApp, *, now: Callable[[], float], gate: OnePerTurn) -> None:
        self.app = app
        self.now = now
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["arrival_s"] = self.now()
            scope.setdefault(BODY_SEND, send)  # the app sets the server's own first
            await asyncio.sleep(0)
            # Only bodies are work to space out: /health, /metrics and the other GETs answer
            # from state, and queued behind a burst's requests /health took one loop turn per
            # request. They still yield once above, so that what the engine loop has just
            # finished (a stream's last token) is accounted before they read it.
            if scope["method"] == "POST":
                async with self.gate:
                    pass
        await self.app(scope, receive, send)
