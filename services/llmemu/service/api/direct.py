"""A stream's body chunks written straight to uvicorn's transport.

Each chunk of a stream went through uvicorn's ASGI `send`: a message dict, a coroutine, its
checks, then `transport.write` of the chunk in HTTP/1.1 chunked framing. The socket write
is the part that must happen once per iteration per stream; the rest cost a few
microseconds per token at hundreds of streams. Once the response has started (status and
headers through `send`, so uvicorn has chosen chunked framing and the HTTP metrics have
seen the start), `DirectWriter` frames a chunk as uvicorn does and writes it itself, doing
what uvicorn's send would have done first: nothing for a client that has left, and the ASGI
path (EagerWriter, which waits) while uvicorn has paused writing for a client that does not
read. The last chunk goes through `send`, so uvicorn ends the response and its keep-alive
bookkeeping as usual. Any other server (another HTTP implementation, a test's peer) gets the
EagerWriter.
"""

from __future__ import annotations

from fastapi import FastAPI

from llmemu.service.api.eager import EagerWriter, Send

BODY_SEND = "llmemu.body_send"
"""Scope key of the HTTP server's own `send` (set by ServingApp, outside every layer). A stream's
body chunks go straight to it: the layers between (error and exception handlers, the HTTP
metrics) look only at the response's start, which goes through them, and each would add a
coroutine per chunk, once per token per stream."""


class DirectWriter(EagerWriter):
    def __init__(self, send: Send, cycle) -> None:
        super().__init__(send)
        self._cycle = cycle
        """uvicorn's RequestResponseCycle of this response (httptools_impl)."""
        self._transport = cycle.transport

    def write(self, body: bytes, more: bool = True) -> None:
        cycle = self._cycle
        if more and body and self._backlog is None and not cycle.flow.write_paused:
            if not cycle.disconnected:  # uvicorn's send drops what comes after a disconnect
                self._transport.write(b"%x\r\n%b\r\n" % (len(body), body))
            return
        super().write(body, more)


def body_writer(send: Send) -> EagerWriter:
    """The writer of a response whose start `send` has sent: direct under uvicorn's
    httptools server when it frames the body in chunks, else through `send`."""
    cycle = getattr(send, "__self__", None)
    needed = ("transport", "flow", "disconnected", "chunked_encoding")
    if cycle is not None and all(hasattr(cycle, n) for n in needed) and cycle.chunked_encoding is True:  # fmt: skip
        return DirectWriter(send, cycle)
    return EagerWriter(send)


class ServingApp(FastAPI):
    """The FastAPI app of a server of streams: leaves the HTTP server's own `send` in the
    scope (BODY_SEND) before any layer wraps it, for `body_writer`."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            scope.setdefault(BODY_SEND, send)  # a mounting app's is the server's
        await super().__call__(scope, receive, send)
