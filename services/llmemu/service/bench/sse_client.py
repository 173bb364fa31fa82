"""A lean HTTP/1.1 client for streamed completions: an asyncio Protocol per connection.

`llmemu bench` stamps the arrival of every token. Through aiohttp each token cost the client
process about 65 us of CPU (a StreamReader, an async iterator, json.loads per chunk); at a
few hundred streams the client then took a core of the two the server also needs, and its
own lateness showed up as latency. Here the bytes of a read are handled in the callback
that receives them: the chunked framing is taken apart, the events that carry text are
counted with one regex pass, and only a read that holds the end, an error or the usage is
taken event by event, those parsed as JSON. One arrival time is stamped per read, as an
iteration's tokens for a stream come in one write. Connections are kept alive and reused
as aiohttp's pool does.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

from llmemu.service.bench.records import Record

READ_TIMEOUT_S = 600.0
"""A response that sends nothing for this long fails (aiohttp's sock_read in the old client)."""
_TOKEN = re.compile(rb'"(?:content|text)":"[^"]')
"""A chunk that carries text: an OpenAI content delta or a completion's text, not empty."""


class SseConnection(asyncio.Protocol):
    """One kept-alive connection; one request at a time (`request`)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._done: asyncio.Future[bool] | None = None
        self._rec: Record | None = None
        self._reset()

    def _reset(self) -> None:
        self._buf, self._sse, self._error_body = b"", b"", b""
        self._status: int | None = None
        self._chunked, self._left, self._keep, self._complete = False, -1, True, False
        self._last_s = time.perf_counter()

    # ---- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is None and self._status is not None and not self._chunked and self._left < 0:
            self._end_of_response()  # a body that ends when the connection does
        if self._rec is not None and not self._complete:
            why = f"{type(exc).__name__}: {exc}" if exc else "ServerDisconnected: the server closed the connection"  # fmt: skip
            self._finish(why)

    def data_received(self, data: bytes) -> None:
        if self._rec is None:  # nothing asked: a server's stray bytes
            return
        self._last_s = now = time.perf_counter()
        buf = self._buf + data if self._buf else data
        if self._status is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._buf = buf
                return
            try:
                self._head(buf[:end])
            except ValueError:  # not an HTTP/1.x response head
                self._finish(f"BadResponse: {buf[:80]!r}")
                self.transport.close()  # type: ignore[union-attr]
                return
            buf = buf[end + 4 :]
        self._buf = self._body(buf, now)

    # ---- a request ---------------------------------------------------------------------
    async def request(self, head: bytes, body: bytes, rec: Record) -> bool:
        """Send one request; fill `rec`. True if the connection can carry another."""
        loop = asyncio.get_running_loop()
        self._rec, self._done = rec, loop.create_future()
        self._reset()
        self._timer = loop.call_later(READ_TIMEOUT_S, self._check_idle)
        self.transport.write(head + body)  # type: ignore[union-attr]
        try:
            return await self._done
        finally:
            self._timer.cancel()

    def _check_idle(self) -> None:
        """Fail the request if nothing came for READ_TIMEOUT_S (one timer a request, moved
        on when it fires early rather than at every read)."""
        idle_s = time.perf_counter() - self._last_s
        if self._done is None or self._done.done():
            return
        if idle_s < READ_TIMEOUT_S:
            self._timer = asyncio.get_running_loop().call_later(READ_TIMEOUT_S - idle_s, self._check_idle)  # fmt: skip
            return
        self._finish(f"TimeoutError: nothing read for {READ_TIMEOUT_S:g} s")
        self.transport.close()  # type: ignore[union-attr]

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        self._status = int(lines[0][9:12])
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"transfer-encoding" and value == b"chunked":
                self._chunked = True
            elif name == b"content-length":
                self._left = int(value)
            elif name == b"connection" and value == b"close":
                self._keep = False
        if not self._chunked and self._left < 0:
            self._keep = False  # read until the server closes

    def _body(self, buf: bytes, now: float) -> bytes:
        """Take apart what `buf` holds; return the unfinished rest."""
        if not self._chunked:
            if self._left >= 0:
                buf, self._left = buf[: self._left], self._left - len(buf)
            self._payload(buf, now)
            if self._left == 0:
                self._end_of_response()
            return b""
        parts = []  # the read's chunks, handled together (an iteration's events per read)
        rest = b""
        while buf:
            eol = buf.find(b"\r\n")
            if eol < 0:
                rest = buf
                break
            size = int(buf[:eol].split(b";", 1)[0], 16)
            if size == 0:  # the last chunk (no trailers are sent by servers we talk to)
                if len(buf) < eol + 4:
                    rest = buf
                    break
                self._payload(b"".join(parts), now)
                self._end_of_response()
                return b""
            start = eol + 2
            if len(buf) < start + size + 2:
                rest = buf
                break
            parts.append(buf[start : start + size])
            buf = buf[start + size + 2 :]
        if parts:
            self._payload(parts[0] if len(parts) == 1 else b"".join(parts), now)
        return rest

    def _payload(self, data: bytes, now: float) -> None:
        if self._status != 200:
            self._error_body += data
            return
        text = self._sse + data if self._sse else data
        end = text.rfind(b"\n\n")
        if end < 0:
            self._sse = text
            return
        block, self._sse = text[:end], text[end + 2 :]
        if b"[DONE]" in block or b'{"error"' in block or b'"usage":{' in block:
            self._events(block.split(b"\n\n"), now)
            return
        tokens = len(_TOKEN.findall(block))  # one per event that carries text
        if tokens:
            self._rec.chunk_s.extend([now] * tokens)  # type: ignore[union-attr]

    def _events(self, events: list[bytes], now: float) -> None:
        """Events one by one: the end, errors and usage among them."""
        rec = self._rec
        for event in events:
            if not event.startswith(b"data: "):  # a comment or another field: not ours
                continue
            payload = event[6:]
            if payload.startswith(b"[DONE]"):
                rec.end_s = now  # type: ignore[union-attr]
            elif payload.startswith(b'{"error"'):
                error = json.loads(payload)["error"]
                rec.error = str(error.get("message", error))  # type: ignore[union-attr]
            else:
                if _TOKEN.search(payload) is not None:
                    rec.chunk_s.append(now)  # type: ignore[union-attr]
                if b'"usage":{' in payload:
                    rec.usage = json.loads(payload).get("usage")  # type: ignore[union-attr]

    def _end_of_response(self) -> None:
        if self._status != 200:
            text = self._error_body.decode("utf-8", "replace")[:200]
            self._finish(f"HTTP {self._status}: {text}")
        else:
            self._finish(None)

    def _finish(self, error: str | None) -> None:
        self._complete = True
        rec, done = self._rec, self._done
        self._rec = None
        if rec is not None:
            if error is not None and rec.error is None:
                rec.error = error
            if not rec.end_s:
                rec.end_s = time.perf_counter()
        if done is not None and not done.done():
            done.set_result(self._keep and error is None and not self.closed)


class SsePool:
    """Kept-alive connections to one http:// server, as many as requests in flight."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[SseConnection] = []

    async def post(self, path: str, body: bytes, rec: Record) -> None:
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode()
        conn = None
        while self._idle and conn is None:
            conn = self._idle.pop()
            if conn.closed:  # the server's keep-alive timeout closed it
                conn = None
        try:
            if conn is None:
                loop = asyncio.get_running_loop()
                _, conn = await loop.create_connection(SseConnection, self.host, self.port)
            reusable = await conn.request(head, body, rec)
        except OSError as exc:
            rec.error, rec.end_s = f"{type(exc).__name__}: {exc}", time.perf_counter()
            return
        if reusable:
            self._idle.append(conn)
        elif not conn.closed:
            conn.transport.close()  # type: ignore[union-attr]

    def close(self) -> None:
        for conn in self._idle:
            if not conn.closed:
                conn.transport.close()  # type: ignore[union-attr]
        self._idle.clear()
