"""Helpers for the live-server tests: build an app, talk to it in-process or over a real port."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from contextlib import asynccontextmanager, contextmanager

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from llmemu.service.api.app import create_app
from llmemu.service.api.settings import ServeSettings

MODEL = "llama-3-8b"
SYSTEM = "h100x1"


def make_app(**fields):
    fields.setdefault("model", MODEL)
    fields.setdefault("system", SYSTEM)
    fields.setdefault("speed", 50.0)
    return create_app(ServeSettings(**fields))


@asynccontextmanager
async def in_process(app):
    """An httpx client over ASGITransport (whole responses; no lifespan, so the scheduler
    starts with the first request and is stopped here)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as c:
        try:
            yield c
        finally:
            await app.state.scheduler.stop()


def sse_events(text: str) -> list:
    """The `data:` payloads of an SSE body: dicts, and the string "[DONE]"."""
    out = []
    for line in text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def sample(text: str, name: str, **labels) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(app):
    """uvicorn on 127.0.0.1 and a free port, in a thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run(coro):
    return asyncio.run(coro)
