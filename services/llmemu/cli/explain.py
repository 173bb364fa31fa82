"""`llmemu explain`: one iteration's operations, placed and priced."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from llmemu.cli.files import resolve_model
from llmemu.core.catalog import load_system
from llmemu.core.channel_time import channel_time
from llmemu.core.errors import ConfigError
from llmemu.core.ops import OP_NAMES, BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import apply_overrides, parse_scenario
from llmemu.core.system_policy import with_system_policy


def explain_batch(args: argparse.Namespace) -> BatchShape:
    for flag in ("decode_requests", "context", "prefill_tokens"):
        if getattr(args, flag) < 0:
            raise ConfigError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: give 0 or more")
    if not args.decode_requests and not args.prefill_tokens:
        raise ConfigError(
            "the batch is empty: give --decode-requests N (with --context C) and/or "
            "--prefill-tokens N"
        )
    chunks = ((args.prefill_tokens, 0),) if args.prefill_tokens else ()
    return BatchShape(
        prefill_chunks=chunks,
        num_decode=args.decode_requests,
        decode_context=args.decode_requests * args.context,
        num_logits=args.decode_requests + (1 if args.prefill_tokens else 0),
    )


def explain(args: argparse.Namespace) -> dict[str, Any]:
    data = apply_overrides({"model": args.model, "system": args.system}, [f"policy.{s}" for s in args.set])  # fmt: skip
    policy = parse_scenario(with_system_policy(data)[0], "explain").policy
    model = resolve_model(args.model, Path.cwd(), args.dtype)
    system = load_system(args.system)
    replica = build_replica(model, system, policy, ideal=args.ideal, keep_plan=True)
    pricer = replica.engine.pricer
    batch = pricer.with_routing(explain_batch(args))
    cost = pricer.price(batch)
    report = {
        "model": model.name,
        "system": system.name,
        "tensor_parallel": system.tensor_parallel,
        "ideal": args.ideal,
        "ops": op_rows(cost.plan),
        "iteration_s": cost.duration_s,
    }
    channels = channel_time(pricer, batch)
    if channels is not None:
        report["pim_channels"] = asdict(channels)
    if getattr(args, "timeline", None):
        from llmemu.cli.gantt import draw_explained

        report["timeline"] = draw_explained(args.timeline, pricer, batch, report)
    return report


def op_rows(plan) -> list[dict[str, Any]]:
    """One row per (operation, processor), summed over layers, in layer order."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for placed, repeat in plan.placed_with_repeat():
        key = (placed.op.name, placed.processor)
        row = rows.setdefault(
            key,
            {
                "name": key[0],
                "device": key[1],
                "flops": 0.0,
                "bytes": 0.0,
                "net_bytes": 0.0,
                "time_s": 0.0,
                "count": 0,
            },
        )
        row["flops"] += placed.op.flops * repeat
        row["bytes"] += placed.op.bytes * repeat
        row["net_bytes"] += placed.op.net_bytes * repeat
        row["time_s"] += placed.time_s * repeat
        row["count"] += repeat
    order = {name: i for i, name in enumerate(OP_NAMES)}
    result = sorted(rows.values(), key=lambda r: (order.get(r["name"], 99), r["device"]))
    for row in result:
        row["op_per_byte"] = row["flops"] / row["bytes"] if row["bytes"] else 0.0
    return result
