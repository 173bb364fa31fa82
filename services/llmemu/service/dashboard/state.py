"""What `/dashboard` shows, read from the server's own metric objects (the numbers Prometheus
scrapes, so the page and Grafana agree): a snapshot every `min_interval_s` of wall time,
taken by a task of the server whether or not a page is open, kept for the last `max_points`
(15 minutes), so a page opened later shows the history; rates and latency quantiles over a
trailing window of emulated time between snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry


@dataclass
class Snapshot:
    t_s: float
    """Emulated seconds since the server started."""
    counters: dict[str, float] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Histogram name -> (upper bound, cumulative count), as exported."""
    busy_s: dict[str, float] = field(default_factory=dict)
    flops: dict[str, float] = field(default_factory=dict)
    decisions: dict[tuple[str, str], float] = field(default_factory=dict)


COUNTERS = {"vllm:request_success_total": "requests", "vllm:generation_tokens_total": "tokens"}
GAUGES = {
    "vllm:num_requests_waiting": "waiting",
    "vllm:num_requests_running": "running",
    "vllm:kv_cache_usage_perc": "kv_usage",
    "llmemu_pacing_lag_recent_p99_seconds": "lag_p99_s",
    "llmemu_pacing_lag_bound_seconds": "lag_bound_s",
    "llmemu_pacing_lag_over_bound": "lag_over_bound",
}
HISTORY_S = 900.0
INTERVAL_S = 2.0
HISTOGRAMS = {"vllm:time_to_first_token_seconds": "ttft", "vllm:inter_token_latency_seconds": "itl"}


class Collectors:
    """The few collectors the page reads, so a snapshot does not collect the whole registry
    (process, HTTP and idle-feature series cost tens of ms on a busy host)."""

    def __init__(self, collectors: list) -> None:
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


def read_registry(registry: CollectorRegistry | Collectors, t_s: float) -> Snapshot:
    snap = Snapshot(t_s)
    for family in registry.collect():
        for s in family.samples:
            name, labels, value = s.name, s.labels, s.value
            if name in COUNTERS:  # summed over labels (e.g. finished_reason)
                key = COUNTERS[name]
                snap.counters[key] = snap.counters.get(key, 0.0) + value
            elif name in GAUGES:
                snap.gauges[GAUGES[name]] = value
            elif name.endswith("_bucket") and name[: -len("_bucket")] in HISTOGRAMS:
                rows = snap.buckets.setdefault(HISTOGRAMS[name[: -len("_bucket")]], [])
                rows.append((float(labels["le"]), value))
            elif name == "llmemu_device_busy_seconds_total":
                snap.busy_s[labels["processor"]] = value
            elif name == "llmemu_device_flops_total":
                snap.flops[labels["processor"]] = value
            elif name == "llmemu_routing_decisions_total":
                snap.decisions[(labels["op"], labels["processor"])] = value
    for rows in snap.buckets.values():
        rows.sort()
    return snap


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile: linear inside the bucket holding rank q * total; in
    the +Inf bucket, the highest finite bound. None when there are no observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, before = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower
            if count == before:
                return le
            return lower + (le - lower) * (rank - before) / (count - before)
        lower, before = le, count
    return lower


def _delta_buckets(a: list[tuple[float, float]], b: list[tuple[float, float]]):
    old = dict(a)
    return [(le, count - old.get(le, 0.0)) for le, count in b]


class DashboardSampler:
    def __init__(
        self,
        registry: CollectorRegistry | Collectors,
        now_s: Callable[[], float],
        *,
        window_s: float = 5.0,
        min_interval_s: float = INTERVAL_S,
        max_points: int = round(HISTORY_S / INTERVAL_S),
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.now_s = now_s
        self.window_s = window_s
        self.min_interval_s = min_interval_s
        self.wall = wall
        self.snaps: deque[Snapshot] = deque(maxlen=max_points)
        self._last_wall = -math.inf
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sample every min_interval_s in the background (from the server's lifespan)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.min_interval_s)

    def sample(self) -> None:
        wall = self.wall()
        if wall - self._last_wall >= self.min_interval_s:
            self._last_wall = wall
            self.snaps.append(read_registry(self.registry, self.now_s()))

    def _base(self, i: int) -> Snapshot | None:
        """The latest snapshot at least window_s before snapshot i, else the oldest one."""
        t = self.snaps[i].t_s - self.window_s
        for j in range(i - 1, -1, -1):
            if self.snaps[j].t_s <= t:
                return self.snaps[j]
        return self.snaps[0] if i > 0 else None

    def point(self, i: int) -> dict[str, Any] | None:
        """Rates, quantiles and gauges at snapshot i, over its trailing window."""
        b, a = self.snaps[i], self._base(i)
        if a is None or b.t_s <= a.t_s:
            return None
        dt = b.t_s - a.t_s
        out: dict[str, Any] = {"t_s": b.t_s}
        for key in COUNTERS.values():
            out[f"{key}_per_s"] = (b.counters.get(key, 0.0) - a.counters.get(key, 0.0)) / dt
        for key in HISTOGRAMS.values():
            delta = _delta_buckets(a.buckets.get(key, []), b.buckets.get(key, []))
            for q in (0.5, 0.99):
                out[f"{key}_p{round(q * 100)}_s"] = bucket_quantile(q, delta)
        out.update({key: b.gauges.get(key, 0.0) for key in GAUGES.values()})
        out["utilization"] = {
            p: (busy - a.busy_s.get(p, 0.0)) / dt for p, busy in sorted(b.busy_s.items())
        }
        return out

    def data(self, since_s: float | None = None) -> dict[str, Any]:
        """Sample (if due) and return every series the page draws, oldest first: all that
        is held, or only the points after emulated time `since_s` (a page's later polls)."""
        self.sample()
        first = 0
        if since_s is not None:
            first = next((i for i, s in enumerate(self.snaps) if s.t_s > since_s), len(self.snaps))  # fmt: skip
        points = [p for i in range(first, len(self.snaps)) if (p := self.point(i)) is not None]
        keys = [k for k in (points[0] if points else {}) if k != "utilization"]
        series: dict[str, Any] = {k: [p[k] for p in points] for k in keys}
        procs = sorted({name for p in points for name in p["utilization"]})
        series["utilization"] = {n: [p["utilization"].get(n) for p in points] for n in procs}
        latest = self.snaps[-1]
        return {
            "now_s": latest.t_s,
            "window_s": self.window_s,
            "series": series,
            "routing": routing_share(latest),
        }


def routing_share(snap: Snapshot) -> dict[str, Any]:
    """Since the start: where the router placed each op (fraction of placements per
    processor) and each processor's share of all FLOPs."""
    per_op: dict[str, dict[str, float]] = {}
    for (op, proc), count in sorted(snap.decisions.items()):
        per_op.setdefault(op, {})[proc] = count
    for counts in per_op.values():
        total = sum(counts.values())
        for proc in counts:
            counts[proc] = counts[proc] / total if total else 0.0
    total_flops = sum(snap.flops.values())
    flops = {p: (f / total_flops if total_flops else 0.0) for p, f in sorted(snap.flops.items())}
    return {"ops": per_op, "flops_share": flops}
