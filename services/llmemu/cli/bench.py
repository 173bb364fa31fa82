"""`llmemu bench --url URL`: load an OpenAI-compatible endpoint and report client-observed
TTFT, ITL, TPOT, E2E and throughput beside the emulated ones from its /metrics."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """load-test an endpoint; client-observed vs emulated latencies"""
    p.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    p.add_argument("--model", help="model id (default: the first of /v1/models)")
    p.add_argument("--endpoint", choices=["chat", "completions"], default="chat")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=int, help="closed loop: users, one request each in flight")  # fmt: skip
    load.add_argument("--rate", type=float, help="open loop: Poisson arrivals, requests per wall second")  # fmt: skip
    p.add_argument("--scenario", help="take lengths and arrivals from this scenario's workload")
    p.add_argument("--requests", type=int, default=100, help="request bound (default 100)")
    p.add_argument("--duration", type=float, help="time bound, wall seconds: stop sending after")
    p.add_argument("--input-tokens", type=int, default=128, help="prompt tokens (default 128)")
    p.add_argument("--output-tokens", type=int, default=64, help="output tokens (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from llmemu.service.bench.run import run_bench

    report = run_bench(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from llmemu.service.bench.report import render

        print(render(report))
    return 0 if report["client"]["errors"] == 0 else 1


COMMAND = (add_arguments, run)
