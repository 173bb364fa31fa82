"""The `edge` key of `llmemu simulate --json`: per-node time by activity, peak memory, OOM."""

from __future__ import annotations

from typing import Any

from llmemu.core.edge.budget import nodes_memory
from llmemu.core.edge.pricer import ACTIVITIES


def edge_report(run: Any) -> dict[str, Any] | None:
    """None unless the replica runs the edge batching policy. `run` is a SimulationRun."""
    replica = run.replica
    if replica.policy.batching != "edge":
        return None
    model, system, policy = replica.model, replica.system, replica.policy
    kv = replica.engine.kv
    kv_peak_tokens = kv.peak_used_blocks * kv.block_size
    work = run.recorder.work.get(system.primary.name)
    seconds = work.seconds if work else {}
    nodes: dict[str, Any] = {}
    for memory in nodes_memory(model, system, policy):
        entry = {f"{a}_s": seconds.get(f"{memory.name}/{a}", 0.0) for a in ACTIVITIES}
        entry |= {
            "peak_memory_bytes": memory.need_bytes(kv_peak_tokens),
            "weights_bytes": memory.weights_bytes,
            "loading_bytes": memory.loading_bytes,
            "activation_bytes": memory.activation_bytes,
            "runtime_bytes": memory.runtime_bytes,
            "kv_bytes": kv_peak_tokens * memory.kv_bytes_per_token,
            "capacity_bytes": memory.capacity_bytes,
            "oom": memory.need_bytes() > memory.capacity_bytes,
        }
        nodes[memory.name] = entry
    return {
        "memory_window": policy.memory_window or 0,
        "allreduce": policy.allreduce,
        "oom": any(n["oom"] for n in nodes.values()),
        "peak_memory_bytes": max(n["peak_memory_bytes"] for n in nodes.values()),
        "nodes": nodes,
    }


def edge_section(run: Any) -> dict[str, Any]:
    """{"edge": ...} for an edge replica, {} otherwise (the key appears only where it means
    something)."""
    report = edge_report(run)
    return {} if report is None else {"edge": report}
