"""`llmemu bench`: a small load generator for an OpenAI-compatible endpoint.

Open loop (Poisson at a rate, or a scenario's arrival times) or closed loop (a fixed number
of concurrent users); prompts of an exact token count in the built-in vocabulary (each word
with its leading space is one token) and `ignore_eos` with `max_tokens`, so lengths are
what the simulator's workloads draw. Each request records when it was sent, when each
content chunk arrived and the usage the server reported.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import numpy as np

from llmemu.service.bench.records import Record
from llmemu.service.bench.sse_client import SsePool

__all__ = ["Plan", "Record", "prompt_text", "request_body", "run_plan"]
Post = Callable[[bytes, Record], Awaitable[None]]
"""Sends one request body and fills its record."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What to send: per request its input and output tokens, and when (None: closed loop)."""

    inputs: np.ndarray
    outputs: np.ndarray
    send_at_s: np.ndarray | None
    concurrency: int = 0
    duration_s: float | None = None


def prompt_text(words: list[str], n: int, salt: int) -> str:
    """n tokens of the built-in vocabulary, different for each request (no prefix sharing)."""
    start = (salt * 7919) % len(words)
    return "".join(" " + words[(start + i) % len(words)] for i in range(n))


def request_body(model: str, chat: bool, text: str, output: int) -> dict:
    body: dict = {
        "model": model,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": True,
    }
    if chat:
        body["messages"] = [{"role": "user", "content": text}]
        body["max_completion_tokens"] = output
    else:
        body["prompt"] = text
        body["max_tokens"] = output
    return body


async def send_one(session: aiohttp.ClientSession, url: str, body: bytes, rec: Record) -> None:
    try:
        async with session.post(url, data=body, headers=JSON) as resp:
            if resp.status != 200:
                rec.error = f"HTTP {resp.status}: {(await resp.text())[:200]}"
                return
            # What arrived, split into lines here: one await per read of the socket (an
            # iteration's chunk), where reading line by line took two per token.
            rest = b""
            async for data in resp.content.iter_any():
                lines = (rest + data).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if not line.startswith(b"data: "):
                        continue
                    payload = line[6:].strip()
                    if payload == b"[DONE]":
                        return
                    _chunk(json.loads(payload), rec)
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        rec.error = f"{type(exc).__name__}: {exc}"
    finally:
        rec.end_s = time.perf_counter()


def _chunk(chunk: dict, rec: Record) -> None:
    if "error" in chunk:
        rec.error = str(chunk["error"].get("message", chunk["error"]))
        return
    choices = chunk.get("choices") or []
    if choices:
        piece = choices[0].get("delta", {}).get("content") or choices[0].get("text")
        if piece:
            rec.chunk_s.append(time.perf_counter())
    if chunk.get("usage"):
        rec.usage = chunk["usage"]


JSON = {"content-type": "application/json"}


@asynccontextmanager
async def poster(endpoint: str):
    """What sends the requests: the lean client (sse_client.py) for an http:// server,
    aiohttp for https://."""
    parts = urlsplit(endpoint)
    if parts.scheme == "http":
        pool = SsePool(parts.hostname or "127.0.0.1", parts.port or 80)
        path = parts.path or "/"
        try:
            yield lambda body, rec: pool.post(path, body, rec)
        finally:
            pool.close()
        return
    timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        yield lambda body, rec: send_one(session, endpoint, body, rec)


async def run_plan(url: str, model: str, chat: bool, plan: Plan, words: list[str]) -> tuple[list[Record], float]:  # fmt: skip
    """Send every request of the plan; returns the records and the wall span of the run."""
    endpoint = url.rstrip("/") + ("/v1/chat/completions" if chat else "/v1/completions")
    bodies = [
        json.dumps(request_body(model, chat, prompt_text(words, int(n_in), i), int(n_out))).encode()
        for i, (n_in, n_out) in enumerate(zip(plan.inputs, plan.outputs, strict=True))
    ]
    records: list[Record] = []
    start = time.perf_counter()
    deadline = start + plan.duration_s if plan.duration_s else float("inf")
    async with poster(endpoint) as post:

        async def fire(i: int) -> None:
            rec = Record(time.perf_counter())
            records.append(rec)
            await post(bodies[i], rec)

        if plan.send_at_s is None:
            counter = iter(range(len(bodies)))

            async def user() -> None:
                for i in counter:
                    if time.perf_counter() >= deadline:
                        return
                    await fire(i)

            await asyncio.gather(*(user() for _ in range(plan.concurrency)))
        else:
            tasks = []
            for i, at in enumerate(plan.send_at_s):
                delay = start + float(at) - time.perf_counter()
                if start + float(at) >= deadline:
                    break
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.ensure_future(fire(i)))
            await asyncio.gather(*tasks)
    return records, time.perf_counter() - start
