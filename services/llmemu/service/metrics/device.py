"""What a device worker exports: the same `llmemu_` device and per-op FLOPs/bytes series the
embedded server has (fed through LlmemuMetrics, so names and labels are defined once), and
the edge series (all-reduce time by algorithm, link bytes, memory
window, resident bytes, disk stalls) that only a worker sees."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import CollectorRegistry, Counter, Gauge

from llmemu.core.ops import Op, OpKind
from llmemu.core.pricing import IterationCost, processor_work
from llmemu.core.routing import Placed, PricedBlock, PricedPlan
from llmemu.service.metrics.llmemu import LlmemuMetrics
from llmemu.service.metrics.vllm import LABELS

WORKER_OWNED = (
    "llmemu_device_",
    "llmemu_operations",
    "llmemu_routing_decisions",
    "llmemu_op_intensity_flops_per_byte",
    "llmemu_op_",
    "llmemu_allreduce_",
    "llmemu_link_",
    "llmemu_memory_",
    "llmemu_disk_",
    "llmemu_worker_",
)
"""Families a worker is the authority on: the scheduler leaves them out of its /metrics."""


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry, model_name: str, worker: str) -> None:
        self.own = LlmemuMetrics(registry, model_name, 1.0)
        base = {"model_name": model_name, "engine": "0"}
        self.allreduce = Counter("llmemu_allreduce_seconds", "Emulated seconds in all-reduce, by algorithm.", (*LABELS, "algorithm"), registry=registry)  # fmt: skip
        self.link_bytes = Counter("llmemu_link_bytes", "Bytes this node sent on its network link (its share of each collective).", (*LABELS, "link"), registry=registry)  # fmt: skip
        self.disk_stall = Counter("llmemu_disk_stall_seconds", "Emulated seconds compute waited for weights streamed from disk (sliding memory window).", (*LABELS, "worker"), registry=registry).labels(**base, worker=worker)  # fmt: skip
        self.window = Gauge("llmemu_memory_window_blocks", "Weight blocks resident at once (sliding memory window; 0: all resident).", (*LABELS, "worker"), registry=registry).labels(**base, worker=worker)  # fmt: skip
        self.memory = Gauge("llmemu_memory_bytes", "Bytes in this worker's memory, by what holds them.", (*LABELS, "worker", "kind"), registry=registry)  # fmt: skip
        self.iterations = Counter("llmemu_worker_iterations", "Iterations this worker executed.", (*LABELS, "worker"), registry=registry).labels(**base, worker=worker)  # fmt: skip
        self._base, self._worker = base, worker

    def set_memory(self, kind: str, value: float) -> None:
        self.memory.labels(**self._base, worker=self._worker, kind=kind).set(value)

    def on_execute(
        self, processor: str, calls: list[tuple[Op, int]], times_s: list[float], algorithm: str
    ) -> IterationCost:
        """Account one iteration's ops (op, layers) with their times; returns its cost."""
        placed = [Placed(op, processor, t) for (op, _), t in zip(calls, times_s, strict=True)]
        blocks = tuple(PricedBlock(((p,),), layers) for p, (_, layers) in zip(placed, calls, strict=True))  # fmt: skip
        plan = PricedPlan(blocks, 0)
        cost = IterationCost(0.0, processor_work(plan), plan)
        self.own.on_step(SimpleNamespace(duration_s=0.0, cost=cost))
        self.iterations.inc()
        for (op, layers), t in zip(calls, times_s, strict=True):
            if op.kind is OpKind.COLLECTIVE:
                self.allreduce.labels(**self._base, algorithm=algorithm).inc(t * layers)
        return cost
