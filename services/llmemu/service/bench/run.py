"""The body of `llmemu bench`: build the plan, read the server's emulated timings around the
run (exact, from /llmemu/timings; a server without it: /metrics histograms), report."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import aiohttp
import numpy as np

from llmemu.core.errors import ConfigError
from llmemu.service.bench.load import Plan, run_plan
from llmemu.service.bench.report import client_summary, emulated_summary, exact_summary, gauge
from llmemu.service.metrics.endpoint import TIMINGS_PATH
from llmemu.service.text.tokenizer import vocabulary_words


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        return resp.status, await resp.text()


async def _timings(base: str, cursor: dict[str, int] | None = None) -> dict[str, Any] | None:
    """The server's exact timings since `cursor` (None: it does not keep them)."""
    query = "" if cursor is None else "?" + "&".join(f"{k}={v}" for k, v in cursor.items())
    status, text = await _get(base + TIMINGS_PATH + query)
    return json.loads(text) if status == 200 else None


def make_plan(args: argparse.Namespace, speed: float) -> Plan:
    if args.scenario:
        from llmemu.cli.files import load_scenario

        wl = load_scenario(args.scenario, []).workload()
        n = min(args.requests, len(wl.inputs))
        at = None if wl.arrivals is None else wl.arrivals[:n] / speed  # emulated -> wall
        conc = args.concurrency or wl.concurrency or 1
        return Plan(wl.inputs[:n], wl.outputs[:n], at, conc, args.duration)
    n = args.requests
    inputs = np.full(n, args.input_tokens)
    outputs = np.full(n, args.output_tokens)
    if args.rate:
        rng = np.random.default_rng(args.seed)
        return Plan(inputs, outputs, np.cumsum(rng.exponential(1 / args.rate, n)), 0, args.duration)  # fmt: skip
    return Plan(inputs, outputs, None, args.concurrency or 1, args.duration)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    base = args.url.rstrip("/")
    try:
        status, before = await _get(base + "/metrics")
        model = args.model
        if model is None:
            async with aiohttp.ClientSession() as s, s.get(base + "/v1/models") as resp:
                model = (await resp.json())["data"][0]["id"]
    except aiohttp.ClientError as exc:
        raise ConfigError(f"--url {args.url}: cannot reach the server ({exc})") from None
    before = before if status == 200 else ""
    start = await _timings(base)
    speed = gauge(before, "llmemu_pacing_speed", 1.0)
    plan = make_plan(args, speed)
    records, span_s = await run_plan(base, model, args.endpoint == "chat", plan, vocabulary_words())  # fmt: skip
    status, after = await _get(base + "/metrics")
    report = {"url": base, "model": model, "speed": speed, "client": client_summary(records, span_s, speed)}  # fmt: skip
    if start is not None and (end := await _timings(base, start["cursor"])) is not None:
        report.update(exact_summary(end, start["pacing_lag_monitor"]["warnings"]))
    else:
        histograms = emulated_summary(before, after) if status == 200 and before else {}
        report.update(emulated=histograms, emulated_source="histograms", pacing_lag=None)
    return report


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """`bench` on uvloop's event loop where it is installed (the serve extra): the client
    handles one read per stream per iteration, and uvloop's loop costs less per read than
    asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(bench(args))
    return uvloop.run(bench(args))
