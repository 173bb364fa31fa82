"""A client that leaves while its request body is still coming in: nothing was submitted, so
nothing is aborted or counted, and the server logs no error (an ordinary departure, not a
fault). Over a real port, so that the departure is a real TCP close mid-body."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlparse

import httpx
from serve_helpers import make_app, sample, served

BODY = b'{"prompt": "the model", "max_tokens": 20, "stream": true}'


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _leave_mid_body(url: str) -> None:
    """Send the head and half of the body that Content-Length announces, then close."""
    parsed = urlparse(url)
    head = (
        f"POST /v1/completions HTTP/1.1\r\nhost: {parsed.netloc}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(BODY)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parsed.hostname, parsed.port)) as sock:
        sock.sendall(head + BODY[: len(BODY) // 2])
        time.sleep(0.2)  # the handler is waiting for the rest of the body when the client goes


def test_a_client_gone_mid_body_is_no_error_and_submits_nothing():
    app = make_app()
    transport = app.state.gateway.transport
    submitted: list = []
    submit = transport.submit
    transport.submit = lambda seqs: (submitted.extend(seqs), submit(seqs))
    errors = _Errors()
    loggers = [logging.getLogger(n) for n in ("llmemu", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(errors)
    try:
        with served(app) as url:
            for _ in range(3):
                _leave_mid_body(url)
            # The instrumentation counts a request once its handler has ended, however.
            deadline = time.monotonic() + 10
            ended = 0.0
            while ended < 3 and time.monotonic() < deadline:
                metrics = httpx.get(url + "/metrics").text
                ended = sample(metrics, "http_requests_total", handler="/v1/completions")
                time.sleep(0.05)
            assert httpx.get(url + "/health").status_code == 200
    finally:
        for logger in loggers:
            logger.removeHandler(errors)
    assert ended == 3, "the three handlers did not end"
    assert [r.getMessage() for r in errors.records] == []
    assert submitted == []
    assert sample(metrics, "vllm:request_success_total") == 0
