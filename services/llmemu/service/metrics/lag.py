"""Is the host keeping up? A rolling p99 of pacing lag against a bound.

The engine loop reports, once per iteration, how late (wall seconds) it began handing the
iteration's tokens out against its plan, half a burst before the emulated iteration's end
(lead.py): the host falling behind; the spread of a burst is in each token's own lag (the
emission histogram). Scaled by the speed that lag is an error in emulated seconds, the unit
of every latency the server reports.
When the p99 over the last `window_s` of wall time exceeds `bound_s` the emulated timings
still hold but clients see tokens late: the monitor logs a warning (at most once per
`every_s`), counts it, and exports the p99, the bound and whether it is exceeded.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from llmemu.service.metrics.vllm import LABELS

log = logging.getLogger("llmemu.pacing")

DEFAULT_BOUND_S = 0.005
WINDOW_S = 10.0
WARN_EVERY_S = 60.0
CHECK_EVERY_S = 1.0
"""The p99 is recomputed at most this often (wall), on an observation or a scrape."""
MAX_HELD = 200_000
"""Observations kept at most (an iteration every 50 us for 10 s): memory stays bounded."""


class LagMonitor:
    def __init__(
        self,
        speed: float,
        bound_s: float = DEFAULT_BOUND_S,
        *,
        window_s: float = WINDOW_S,
        every_s: float = WARN_EVERY_S,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.speed = speed
        self.bound_s = bound_s
        """Emulated seconds of p99 lag above which the host is said not to keep up."""
        self.window_s = window_s
        self.every_s = every_s
        self.wall = wall
        self.warnings = 0
        self.over = False
        self.p99_s = 0.0
        """p99 over the window at the last check, emulated seconds (0 with no iteration)."""
        self._recent: deque[tuple[float, float]] = deque(maxlen=MAX_HELD)
        self._last_check = -math.inf
        self._last_warning = -math.inf

    def observe(self, lag_wall_s: float) -> float:
        """Record one iteration's lag; returns it in emulated seconds (early counts as 0)."""
        now = self.wall()
        lag_s = max(0.0, lag_wall_s) * self.speed
        self._recent.append((now, lag_s))
        self.refresh(now)
        return lag_s

    def refresh(self, now: float | None = None) -> None:
        """check() unless one ran within CHECK_EVERY_S."""
        now = self.wall() if now is None else now
        if now - self._last_check >= CHECK_EVERY_S:
            self.check(now)

    def check(self, now: float | None = None) -> None:
        """Recompute the p99 over the window; warn if over the bound and not warned lately."""
        now = self.wall() if now is None else now
        self._last_check = now
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()
        values = [lag for _, lag in self._recent]
        self.p99_s = float(np.percentile(values, 99)) if values else 0.0
        self.over = self.p99_s > self.bound_s
        if self.over and now - self._last_warning >= self.every_s:
            self._last_warning = now
            self.warnings += 1
            log.warning(warning_line(self.p99_s, self.bound_s, self.window_s))


def warning_line(p99_s: float, bound_s: float, window_s: float) -> str:
    return (
        f"pacing lag p99 over the last {window_s:g} s is {p99_s * 1e3:.1f} ms emulated, above "
        f"the bound of {bound_s * 1e3:g} ms: the host cannot keep up, so tokens leave late and "
        "client-observed latencies exceed the emulated ones; lower the load, or serve with "
        "a lower --speed"
    )


class LagCollector:
    """The monitor's state as series, checked afresh at each scrape."""

    def __init__(self, monitor: LagMonitor, model_name: str) -> None:
        self.monitor = monitor
        self.base = [model_name, "0"]

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        m = self.monitor
        m.refresh()
        labels = list(LABELS)
        for name, doc, value in (
            (
                "llmemu_pacing_lag_recent_p99_seconds",
                f"p99 of the per-iteration pacing lag over the last {m.window_s:g} wall seconds, in emulated seconds (wall lag x speed).",
                m.p99_s,
            ),  # fmt: skip
            (
                "llmemu_pacing_lag_bound_seconds",
                "Emulated seconds of recent p99 pacing lag above which the server warns (serve --lag-bound-ms).",
                m.bound_s,
            ),  # fmt: skip
            (
                "llmemu_pacing_lag_over_bound",
                "1 while the recent p99 pacing lag exceeds the bound: the host does not keep up.",
                float(m.over),
            ),  # fmt: skip
        ):
            family = GaugeMetricFamily(name, doc, labels=labels)
            family.add_metric(self.base, value)
            yield family
        warnings = CounterMetricFamily("llmemu_pacing_lag_warnings", f"Warnings logged because the recent p99 pacing lag exceeded the bound (at most one per {m.every_s:g} s).", labels=labels)  # fmt: skip
        warnings.add_metric(self.base, m.warnings)
        yield warnings
