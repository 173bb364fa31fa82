"""The summary of a fleet run: `summarize`'s keys over every request of the fleet, plus
per-replica results, the router's decisions, the prefix cache and the KV transfers."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmemu.core.fleet.driver import FleetRun
from llmemu.core.fleet.log import FleetLog
from llmemu.core.fleet.members import FleetReplica, compact_recorder
from llmemu.core.pricing import ProcessorWork
from llmemu.core.results import _stats, summarize
from llmemu.core.simulate import Recorder, SimulationRun


def merged_run(run: FleetRun) -> SimulationRun:
    """The fleet as one run: every finished request once (its last replica's record, with
    the first token from its prefill) and every replica's iterations."""
    rec = compact_recorder()
    for r in run.replicas:
        src = r.recorder
        rec.iterations += src.iterations
        rec.steps += src.steps
        rec.preemptions += src.preemptions
        for name in ("itl_first", "itl_slope", "itl_count", "itl_weight"):
            getattr(rec, name).extend(getattr(src, name))
        for proc, work in src.work.items():
            rec.work.setdefault(_device_key(run, r, proc), ProcessorWork()).add(work)
    return SimulationRun(run.replicas[0].replica, [], run.rejected, run.simulated_s, rec, run.log)


def _device_key(run: FleetRun, r: FleetReplica, proc: str) -> str:
    pools = {x.pool for x in run.replicas}
    return proc if len(pools) == 1 else f"{r.pool}/{proc}"


def fleet_summary(run: FleetRun, wall_s: float) -> dict[str, Any]:
    merged = merged_run(run)
    summary = summarize(merged, wall_s)
    span = run.simulated_s or 1.0
    pools: dict[str, list[FleetReplica]] = {}
    for r in run.replicas:
        pools.setdefault(r.pool, []).append(r)
    summary["scenario"]["system"] = " + ".join(
        f"{len(rs)} x {rs[0].replica.system.name}"
        + (f" ({rs[0].role})" if rs[0].role != "mixed" else "")
        for rs in pools.values()
    )
    summary["devices"] = _devices(run, pools, merged.recorder, span)
    caps = [r.replica.engine.kv for r in run.replicas]
    summary["memory"]["kv_capacity_tokens"] = sum(kv.num_blocks * kv.block_size for kv in caps)
    summary["memory"]["kv_peak_usage"] = max(_kv_peak(r) for r in run.replicas)
    per_replica = _PerReplica(run.log)
    summary["replicas"] = {r.name: per_replica.summary(r, span) for r in run.replicas}
    summary["router"] = {"name": run.router, "decisions": dict(run.decisions)}
    cache = _prefix_cache(run.replicas)
    if cache is not None:
        summary["prefix_cache"] = cache
    if run.link is not None:
        summary["kv_transfer"] = _transfers(run)
    return summary


def _devices(run, pools, rec: Recorder, span: float) -> dict[str, Any]:
    devices: dict[str, Any] = {}
    for rs in pools.values():
        first = rs[0].replica
        tp = first.system.tensor_parallel
        for proc in first.system.processors:
            key = _device_key(run, rs[0], proc.name)
            work = rec.work.get(key, ProcessorWork())
            devices[key] = {
                "count": tp * len(rs),
                "utilization": work.busy_s / (span * len(rs)),
                "busy_s": work.busy_s,
                "flops": work.flops,
                "bytes": work.bytes,
                "peak_memory_bytes": (first.memory.weight_bytes + _kv_peak_bytes(rs)) / tp
                if proc.owns_memory
                else 0.0,
                "ops_by_kind": {k: round(v) for k, v in sorted(work.ops_by_kind.items())},
            }
    return devices


def _kv_peak(r: FleetReplica) -> float:
    kv = r.replica.engine.kv
    return kv.peak_used_blocks / kv.num_blocks if kv.num_blocks else 0.0


def _kv_peak_bytes(rs: list[FleetReplica]) -> float:
    kv_bytes = [
        r.replica.engine.kv.peak_used_blocks
        * r.replica.engine.kv.block_size
        * r.replica.memory.kv_bytes_per_token
        for r in rs
    ]
    return max(kv_bytes)


class _PerReplica:
    """Each replica's requests, read off the fleet's log: a prefill replica's are those whose
    prompt it computed (each left it with one token), any other's those it finished. The log
    is sorted by replica once, so each replica reads a slice."""

    def __init__(self, log: FleetLog) -> None:
        ttft = log.column("first_token_s") - log.column("arrival_s")
        generated = log.column("generated")
        decoded = np.maximum(generated - 1, 1)
        tpot = (log.column("finish_s") - log.column("first_token_s")) / decoded
        self.groups = {
            role: _Groups(log.replicas(by), ttft, generated, tpot)
            for role, by in (("prefill", "prefilled_by"), ("other", "served_by"))
        }

    def summary(self, r: FleetReplica, span: float) -> dict[str, Any]:
        prefill = r.role == "prefill"
        ttft, generated, tpot = self.groups["prefill" if prefill else "other"].of(r.index)
        if prefill:  # a prompt computed here left with its first token
            generated = np.ones(len(ttft))
        stats = _cache_stats(r)
        return {
            "pool": r.pool,
            "role": r.role,
            "requests": len(ttft),
            "throughput": float(generated.sum()) / span,
            "ttft_s": _stats(ttft),
            "tpot_s": _stats(tpot[generated > 1]),
            "kv_peak_usage": _kv_peak(r),
            "prefix_hit_ratio": stats["hit_ratio"] if stats else 0.0,
            "load_timeline": r.load.to_dict(span),
        }


class _Groups:
    """Columns sorted by a replica index, and where each replica's rows start."""

    def __init__(self, key: np.ndarray, *columns: np.ndarray) -> None:
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.columns = [c[order] for c in columns]

    def of(self, index: int) -> list[np.ndarray]:
        lo, hi = np.searchsorted(self.key, [index, index + 1])
        return [c[lo:hi] for c in self.columns]


def _cache_stats(r: FleetReplica) -> dict[str, float] | None:
    stats = getattr(r.replica.engine.kv, "prefix_stats", None)
    return stats() if stats is not None else None


def _prefix_cache(replicas: list[FleetReplica]) -> dict[str, float] | None:
    all_stats = [s for s in (_cache_stats(r) for r in replicas) if s is not None]
    if not all_stats:
        return None
    total = {
        k: sum(s[k] for s in all_stats)
        for k in ("query_tokens", "hit_tokens", "offload_hit_tokens")
    }
    queries = total["query_tokens"]
    total["hit_ratio"] = total["hit_tokens"] / queries if queries else 0.0
    total["offload_load_s"] = sum(r.kv_load_s for r in replicas)
    return total


def _transfers(run: FleetRun) -> dict[str, Any]:
    done = run.link.done if run.link is not None else []
    seconds = np.array([t.done_s - t.start_s for t in done])
    return {
        "link": run.link_name,
        "transfers": len(done),
        "bytes": float(sum(t.nbytes for t in done)),
        "seconds_p50": float(np.percentile(seconds, 50)) if done else 0.0,
        "seconds_p99": float(np.percentile(seconds, 99)) if done else 0.0,
    }
