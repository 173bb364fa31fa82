"""`llmemu validate`: score the GPU presets on published serving throughput."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llmemu.cli.argtypes import positive_int

DATA = Path(__file__).resolve().parents[3] / "data" / "serving" / "trtllm_0.13_throughput.csv"
"""The repository's copy of the table (serving_rows.DATA, without importing the core)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """emulate published serving measurements (TensorRT-LLM 0.13) and print the errors"""
    p.add_argument("--json", action="store_true", help="print rows and summary as JSON")
    p.add_argument(
        "--quick",
        action="store_true",
        help="bursts of at most 1,024 requests instead of the table's 3,000 / 30,000",
    )
    p.add_argument("--jobs", type=positive_int, default=1, help="worker processes (default 1)")
    p.add_argument("--data", default=str(DATA), help="the published table (CSV)")


def run(args: argparse.Namespace) -> int:
    from llmemu.core.errors import ConfigError
    from llmemu.reproduce.serving import QUICK_REQUESTS, render, summary, validate

    path = Path(args.data)
    if not path.exists():
        raise ConfigError(f"--data: {path} does not exist; give the path of the CSV")
    requests = QUICK_REQUESTS if args.quick else None
    scored = validate(path, requests, max(1, args.jobs))
    if args.json:
        body = {"requests_cap": requests, "rows": [s.as_dict() for s in scored]}
        print(json.dumps({**body, "summary": summary(scored)}, indent=2))
    else:
        print(render(scored, requests))
    return 0


COMMAND = (add_arguments, run)
