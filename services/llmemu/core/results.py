"""The summary of a simulation, with the stable keys of `llmemu simulate --json`."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from llmemu.core.nanoflow.optimal import throughput_section
from llmemu.core.quantiles import percentiles
from llmemu.core.registry import Deferred, resolve
from llmemu.core.simulate import Recorder, SimulationRun

SECTIONS = {"edge": Deferred("llmemu.core.edge.report", "edge_section")}
"""Summary keys of one batching policy (`edge`: per node time and memory), by policy."""


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0}
    p50, p90, p99 = percentiles(values, [50, 90, 99])
    return {"mean": float(values.mean()), "p50": p50, "p90": p90, "p99": p99}


def _weighted_stats(values: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    if values.size == 0 or weights.sum() == 0:
        return _stats(np.empty(0))
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w) / w.sum()
    q = [float(v[min(len(v) - 1, np.searchsorted(cum, p))]) for p in (0.5, 0.9, 0.99)]
    return {"mean": float((v * w).sum() / w.sum()), "p50": q[0], "p90": q[1], "p99": q[2]}


def itl_distribution(rec: Recorder) -> tuple[np.ndarray, np.ndarray]:
    """Every iteration's duration, weighted by the decode tokens it produced."""
    if not rec.itl_count:
        return np.empty(0), np.empty(0)
    counts = np.asarray(rec.itl_count)
    # with its dtype given, numpy converts a list of floats without inspecting each element
    # for one (3-4x faster)
    starts = np.repeat(np.array(rec.itl_first, dtype=np.float64), counts)
    slopes = np.repeat(np.array(rec.itl_slope, dtype=np.float64), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    weights = np.repeat(np.asarray(rec.itl_weight), counts)
    return starts + slopes * offsets, weights


def summarize(
    run: SimulationRun, wall_s: float, itl: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, Any]:
    """The summary; `itl` is itl_distribution(run.recorder) where the caller has it already."""
    log = run.log
    span = run.simulated_s or 1.0
    arrival = log.column("arrival_s")
    first = log.column("first_token_s")
    finish = log.column("finish_s")
    started = log.column("first_scheduled_s")
    out = log.column("generated")
    prompt = log.column("prompt_tokens")
    multi = out > 1
    tpot = (finish[multi] - first[multi]) / (out[multi] - 1)
    itl, weights = itl if itl is not None else itl_distribution(run.recorder)
    replica = run.replica
    tp = replica.system.tensor_parallel
    kv = replica.engine.kv
    section = SECTIONS.get(replica.policy.batching)
    edge = resolve(section)(run) if section else {}
    return {
        "scenario": {
            "model": replica.model.name,
            "system": replica.system.name,
            "tensor_parallel": tp,
            "batching": replica.policy.batching,
            "routing": replica.policy.routing,
        },
        "throughput": {
            "output_tokens_per_s": float(out.sum() / span),
            "total_tokens_per_s": float((out.sum() + prompt.sum()) / span),
            "requests_per_s": len(log) / span,
            **throughput_section(replica, float((out.sum() + prompt.sum()) / span)),
        },
        "ttft_s": _stats(first - arrival),
        "tpot_s": _stats(tpot),
        "itl_s": _weighted_stats(itl, weights),
        "e2e_s": _stats(finish - arrival),
        "queue_s": _stats(started - arrival),
        "requests": {
            "completed": len(log),
            "rejected": len(run.rejected),
            "preempted": run.recorder.preemptions,
            "rejected_because": _reasons(run.rejected),
        },
        "memory": {
            "weights_bytes": replica.memory.weight_bytes,
            "kv_capacity_tokens": kv.num_blocks * kv.block_size,
            "kv_peak_usage": kv.peak_used_blocks / kv.num_blocks if kv.num_blocks else 0.0,
        },
        "devices": _devices(run, span, edge.get("edge")),
        **edge,
        "simulated_s": run.simulated_s,
        "iterations": run.recorder.iterations,
        "engine_steps": run.recorder.steps,
        "wall_s": wall_s,
    }


def _devices(run: SimulationRun, span: float, edge: dict[str, Any] | None) -> dict[str, Any]:
    """Per processor; an edge node's peak memory is the edge report's (window, loading
    buffers and runtime included), so the two keys never disagree."""
    replica = run.replica
    tp = replica.system.tensor_parallel
    kv = replica.engine.kv
    kv_peak = kv.peak_used_blocks * kv.block_size * replica.memory.kv_bytes_per_token
    devices: dict[str, Any] = {}
    for proc in replica.system.processors:
        work = run.recorder.work.get(proc.name)
        memory = (replica.memory.weight_bytes + kv_peak) / tp if proc.owns_memory else 0.0
        if edge is not None and proc.owns_memory:
            memory = edge["peak_memory_bytes"]
        devices[proc.name] = {
            "count": tp,
            "utilization": (work.busy_s / span) if work else 0.0,
            "busy_s": work.busy_s if work else 0.0,
            "flops": work.flops if work else 0.0,
            "bytes": work.bytes if work else 0.0,
            "peak_memory_bytes": memory,
            "ops_by_kind": {k: round(v) for k, v in sorted(work.ops_by_kind.items())}
            if work
            else {},
        }
    return devices


def _reasons(rejected: list[tuple[int, str]]) -> dict[str, int]:
    """Each distinct reason a request was turned away, with how many it turned away."""
    return dict(Counter(reason for _, reason in rejected))
