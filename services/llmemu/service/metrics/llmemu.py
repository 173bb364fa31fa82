"""Our own `llmemu_` series: what each emulated processor did, how ops were routed, how long
iterations took (emulated), and how late the host emitted tokens against the emulated
schedule (pacing lag, wall seconds). Per-processor and per-op totals are plain sums kept
in the engine loop and turned into counters at scrape time; only histograms are observed
as they happen."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric

from llmemu.core.engine import StepResult
from llmemu.service.metrics.histogram import FastHistogram, Series
from llmemu.service.metrics.vllm import LABELS

ITERATION_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15,
                     0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # fmt: skip
OPB_BUCKETS = (0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
LAG_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1,
               0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # fmt: skip


class LlmemuMetrics:
    def __init__(self, registry: CollectorRegistry, model_name: str, speed: float) -> None:
        self._labels = {"model_name": model_name, "engine": "0"}
        self.iteration = Histogram("llmemu_iteration_seconds", "Emulated duration of one engine iteration.", LABELS, buckets=ITERATION_BUCKETS, registry=registry).labels(**self._labels)  # fmt: skip
        # Observed once per token as it is handed out: the cheap kind (histogram.py).
        lag = FastHistogram("llmemu_pacing_lag_seconds", "Wall seconds between each token emission and the end of the emulated iteration that produced it, early or late (an iteration's burst of writes is centred on that moment).", LABELS, LAG_BUCKETS)  # fmt: skip
        registry.register(lag)
        self.lag = lag.labels(model_name, "0")
        # A dozen observations per iteration: the cheap kind too.
        self._opb = FastHistogram("llmemu_op_intensity_flops_per_byte", "Arithmetic intensity (Op/B) of each operation of each iteration, by processor and kind.", (*LABELS, "processor", "kind"), OPB_BUCKETS)  # fmt: skip
        registry.register(self._opb)
        self._opb_children: dict[tuple[str, str], Series] = {}
        speed_gauge = Gauge("llmemu_pacing_speed", "Emulated seconds per wall second (--speed).", LABELS, registry=registry)  # fmt: skip
        speed_gauge.labels(**self._labels).set(speed)
        self.busy_s: dict[str, float] = {}
        self.flops: dict[str, float] = {}
        self.bytes: dict[str, float] = {}
        self.write_bytes: dict[str, float] = {}
        self.ops: dict[tuple[str, str, str], float] = {}
        """(processor, op, kind) -> executions (one per layer per iteration)."""
        self.op_flops: dict[tuple[str, str], float] = {}
        """(processor, op) -> FLOPs over all its executions; op_bytes likewise."""
        self.op_bytes: dict[tuple[str, str], float] = {}
        self.decisions: dict[tuple[str, str], int] = {}
        """(op, processor) -> times the router placed that op there (once per iteration)."""
        self.totals = _TotalsCollector(self)
        registry.register(self.totals)

    def on_step(self, result: StepResult) -> None:
        self.iteration.observe(result.duration_s)
        cost = result.cost
        if cost is None:
            return
        for name, work in cost.work.items():
            self.busy_s[name] = self.busy_s.get(name, 0.0) + work.busy_s
            self.flops[name] = self.flops.get(name, 0.0) + work.flops
            self.bytes[name] = self.bytes.get(name, 0.0) + work.bytes
            self.write_bytes[name] = self.write_bytes.get(name, 0.0) + work.write_bytes
        if cost.plan is None:
            return
        for placed, repeat in cost.plan.placed_with_repeat():
            op, proc = placed.op, placed.processor
            kind = str(op.kind)
            key = (proc, op.name, kind)
            self.ops[key] = self.ops.get(key, 0.0) + repeat
            per_op = (proc, op.name)
            self.op_flops[per_op] = self.op_flops.get(per_op, 0.0) + op.flops * repeat
            self.op_bytes[per_op] = self.op_bytes.get(per_op, 0.0) + op.bytes * repeat
            decision = (op.name, proc)
            self.decisions[decision] = self.decisions.get(decision, 0) + 1
            child = self._opb_children.get((proc, kind))
            if child is None:
                child = self._opb.labels(*self._labels.values(), proc, kind)
                self._opb_children[(proc, kind)] = child
            if op.bytes:
                child.observe(op.flops / op.bytes)


class _TotalsCollector:
    """Counters whose values are the sums kept by LlmemuMetrics, read at scrape time."""

    def __init__(self, m: LlmemuMetrics) -> None:
        self.m = m

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from self.devices()
        yield from self.per_op()
        yield self.routing()

    def devices(self) -> Iterator[Metric]:
        m, base = self.m, list(self.m._labels.values())
        for name, doc, values in (
            (
                "llmemu_device_busy_seconds",
                "Emulated seconds each processor was busy (all TP devices).",
                m.busy_s,
            ),  # fmt: skip
            ("llmemu_device_flops", "Floating-point operations each processor executed.", m.flops),
            ("llmemu_device_bytes", "Bytes each processor moved to or from memory.", m.bytes),
        ):
            family = CounterMetricFamily(name, doc, labels=[*LABELS, "processor"])
            for proc, value in sorted(values.items()):
                family.add_metric([*base, proc], value)
            yield family

    def per_op(self) -> Iterator[Metric]:
        m, base = self.m, list(self.m._labels.values())
        names = [*LABELS, "processor"]
        ops = CounterMetricFamily("llmemu_operations", "Operations executed, one per layer per iteration, by processor, op and kind.", labels=[*names, "op", "kind"])  # fmt: skip
        for (proc, op, kind), value in sorted(m.ops.items()):
            ops.add_metric([*base, proc, op, kind], value)
        yield ops
        for name, doc, values in (
            ("llmemu_op_flops", "FLOPs of each operation on each processor.", m.op_flops),
            ("llmemu_op_bytes", "Bytes of each operation on each processor.", m.op_bytes),
        ):
            family = CounterMetricFamily(name, doc, labels=[*names, "op"])
            for (proc, op), value in sorted(values.items()):
                family.add_metric([*base, proc, op], value)
            yield family

    def routing(self) -> Metric:
        m, base = self.m, list(self.m._labels.values())
        routing = CounterMetricFamily("llmemu_routing_decisions", "Placements of each op on a processor by the routing policy, once per iteration.", labels=[*LABELS, "op", "processor"])  # fmt: skip
        for (op, proc), value in sorted(m.decisions.items()):
            routing.add_metric([*base, op, proc], value)
        return routing


class DashboardTotals:
    """The totals /dashboard reads (devices, routing), without the per-op families."""

    def __init__(self, totals: _TotalsCollector) -> None:
        self.totals = totals

    def collect(self) -> Iterator[Metric]:
        yield from self.totals.devices()
        yield self.totals.routing()
