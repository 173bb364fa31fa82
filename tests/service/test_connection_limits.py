"""Connection-level limits over a real port (service/api/http_server.py): an oversized or
unfinished head is a 431, a head that does not arrive in time a 408, connections beyond the
cap a 503, each with `connection: close`; a client error on a kept-alive connection leaves
it usable; and /health answers within 100 ms of this process's own time throughout (a
probe's wall latency, at most the CPU time the process used meanwhile: see
test_hostile_requests.py)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from contextlib import contextmanager

import httpx
import uvicorn
from serve_helpers import MODEL, free_port, make_app

from llmemu.service.api.http_server import ConnectionLimits, guarded_protocol

LIMITS = ConnectionLimits(max_header_bytes=64 << 10, header_timeout_s=0.5, max_connections=24)


@contextmanager
def guarded_server():
    port = free_port()
    config = uvicorn.Config(make_app(), host="127.0.0.1", port=port, log_level="warning", http=guarded_protocol(LIMITS))  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    """One response (head and Content-Length body), or what came before the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")), 0)  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


class _Probe:
    def __init__(self, port: int) -> None:
        self.worst_s, self.count, self.failures = 0.0, 0, []
        self.stop = False
        self.thread = threading.Thread(target=self._run, args=(port,), daemon=True)
        self.thread.start()

    def _run(self, port: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
            while not self.stop:
                start, cpu = time.perf_counter(), time.process_time()
                status = c.get("/health").status_code
                wall = time.perf_counter() - start
                self.worst_s = max(self.worst_s, min(wall, time.process_time() - cpu))
                self.count += 1
                if status != 200:
                    self.failures.append(status)
                time.sleep(0.01)


def _post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip


def test_heads_connections_and_keep_alive_under_attack():
    with guarded_server() as port:
        probe = _Probe(port)
        try:
            big = _connect(port)
            big.sendall(b"GET /health HTTP/1.1\r\nx-big: " + b"a" * (70 << 10) + b"\r\n\r\n")
            assert _read_response(big).startswith(b"HTTP/1.1 431")
            assert _closed(big)
            big.close()

            unfinished = _connect(port)  # 1 MB of one header that never ends
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                unfinished.sendall(b"GET /health HTTP/1.1\r\nx-big: " + b"a" * (1 << 20))
            # The 431, or a reset: the server closed with the rest of the megabyte unread.
            refused = _read_response(unfinished)
            assert refused == b"" or refused.startswith(b"HTTP/1.1 431"), refused[:100]
            unfinished.close()

            slow, idle = _connect(port), _connect(port)
            slow.sendall(b"GET /health HTTP/1.1\r\n")  # and nothing more
            start = time.perf_counter()
            for sock in (slow, idle):
                response = _read_response(sock)
                assert response.startswith(b"HTTP/1.1 408") and b"connection: close" in response
                sock.close()
            assert 0.4 < time.perf_counter() - start < 3

            # A client error on a kept-alive connection: the next request on it is answered.
            kept = _connect(port)
            kept.sendall(_post("/v1/completions", b'{"prompt": "\\ud800"}'))
            assert _read_response(kept).startswith(b"HTTP/1.1 400")
            kept.sendall(_post("/v1/completions", f'{{"model": "{MODEL}", "prompt": " the", "max_tokens": 2}}'.encode()))  # fmt: skip
            assert _read_response(kept).startswith(b"HTTP/1.1 200")
            kept.sendall(
                b"POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 99999999\r\n\r\n"
            )
            too_large = _read_response(kept)
            assert (
                too_large.startswith(b"HTTP/1.1 413") and b"connection: close" in too_large.lower()
            )
            kept.close()

            # The cap counts every open connection, the probe's included: the next are 503.
            held = [_connect(port) for _ in range(LIMITS.max_connections + 3)]
            refused = [s for s in held if _read_response(s).startswith(b"HTTP/1.1 503")]
            assert len(refused) >= 3
            for sock in held:
                sock.close()
            time.sleep(0.6)  # the held ones time out or close; the probe's next call succeeds
        finally:
            probe.stop = True
            probe.thread.join()
    assert probe.count > 20
    assert probe.worst_s < 0.100, probe.worst_s
    assert not probe.failures or set(probe.failures) <= {503}
