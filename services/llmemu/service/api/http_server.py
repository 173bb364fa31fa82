"""uvicorn with the connection limits it leaves out.

uvicorn's httptools protocol has no header-size limit (an unfinished 50 MB header took the
server from 149 to 522 MB, a finished one was accepted), no time limit on a request's head
(a client that connects and sends nothing, or a byte a minute, holds its socket for ever),
and no cap on connections (21,000 idle ones used up the file descriptors, then /health was
refused). `GuardedHttpTools` adds the three, each answered like uvicorn's own refusals:
a status line, `connection: close`, the socket closed.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int = 64 << 10
    """Request line and headers at most, bytes (nginx: 4 x 8 KiB buffers; 431 above)."""
    header_timeout_s: float = 10.0
    """From connecting, or from a request's first byte, until its headers end."""
    max_connections: int | None = None
    """Open connections at most (503 above); None: the file-descriptor limit less 256."""

    def connections(self) -> int:
        if self.max_connections is not None:
            return self.max_connections
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return max(64, soft - 256)


def _refusal(status: bytes, message: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: "
        + str(len(message)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + message
    )


def guarded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """The httptools protocol class to give uvicorn (`http=`), with `limits`."""
    max_connections = limits.connections()

    class GuardedHttpTools(HttpToolsProtocol):
        _head_bytes = 0
        _in_head = True
        _tail = b""
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                self._refuse(b"503 Service Unavailable", f"over {max_connections} connections; retry later")  # fmt: skip
                return
            self._reset_head()
            self._start_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                # Bytes up to the blank line that ends the head; a body may follow in `data`.
                end = (self._tail + data).find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
                self._tail = data[-3:]
                if self._head_bytes > limits.max_header_bytes:
                    self._refuse(b"431 Request Header Fields Too Large", f"request line and headers over {limits.max_header_bytes} bytes")  # fmt: skip
                    return
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._head_timer is None:  # a kept-alive connection's next request
                self._start_head_timer()

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._stop_head_timer()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._reset_head()  # idle until the next request: uvicorn's keep-alive timeout

        def _reset_head(self) -> None:
            self._in_head, self._head_bytes, self._tail = True, 0, b""

        def _start_head_timer(self) -> None:
            self._stop_head_timer()
            self._head_timer = self.loop.call_later(limits.header_timeout_s, self._head_late)

        def _stop_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            if self._in_head and not self.transport.is_closing():
                self._refuse(b"408 Request Timeout", f"no complete request head within {limits.header_timeout_s:g} s")  # fmt: skip

        def _refuse(self, status: bytes, message: str) -> None:
            self._stop_head_timer()
            self._in_head = False
            self.transport.write(_refusal(status, message.encode()))
            self.transport.close()

    return GuardedHttpTools
