"""Exact emulated timings of recent requests, for `llmemu bench`.

/metrics holds histograms, whose percentiles can only be interpolated inside buckets (a
TPOT p50 of 16.3 ms where every value was near 10.9 ms). The server also keeps bounded rings
of what the histograms observe: per completed request its TTFT, TPOT, E2E and queue time,
per token its inter-token gap, per iteration its pacing lag. A client reads a cursor before
its run and asks afterwards for exact percentiles of everything recorded since
(`GET /llmemu/timings?requests=R&tokens=T&iterations=I`); what the rings no longer hold is
reported as `missed`, never silently dropped from the count.
"""

from __future__ import annotations

import math

import numpy as np

REQUEST_FIELDS = ("ttft_s", "tpot_s", "e2e_s", "queue_s")
MAX_REQUESTS = 100_000
MAX_TOKENS = 2_000_000
MAX_ITERATIONS = 200_000


class Ring:
    """The last `size` rows appended, addressed by their index since the start."""

    def __init__(self, size: int, columns: int = 1) -> None:
        # Uninitialised: only rows already appended are ever read, and pages never written
        # take no memory (the token ring is 16 MB when full).
        self.rows = np.empty((size, columns))
        self.total = 0

    def append(self, *values: float) -> None:
        self.rows[self.total % len(self.rows)] = values
        self.total += 1

    def fill(self, value: float, count: int) -> None:
        """Append `value` `count` times (the tokens of one iteration share their gap)."""
        size = len(self.rows)
        start = self.total % size
        self.total += count
        if count >= size:
            self.rows[:] = value
        elif start + count <= size:
            self.rows[start : start + count] = value
        else:
            self.rows[start:] = value
            self.rows[: start + count - size] = value

    def since(self, cursor: int) -> tuple[np.ndarray, int]:
        """Rows appended at index >= cursor still held, and how many are no longer held."""
        size = len(self.rows)
        start = max(cursor, self.total - size, 0)
        missed = start - max(cursor, 0)
        idx = np.arange(start, self.total) % size
        return self.rows[idx], missed


def stats(values: np.ndarray) -> dict[str, float]:
    """Mean and p50/p90/p99 (numpy's linear percentiles, as the client side computes)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return {"mean": math.nan, "p50": math.nan, "p90": math.nan, "p99": math.nan}
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"mean": float(arr.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99)}


class TimingLog:
    def __init__(
        self,
        max_requests: int = MAX_REQUESTS,
        max_tokens: int = MAX_TOKENS,
        max_iterations: int = MAX_ITERATIONS,
    ) -> None:
        self.requests = Ring(max_requests, len(REQUEST_FIELDS))
        self.gaps = Ring(max_tokens)
        self.lags = Ring(max_iterations)
        """Pacing lag of each iteration, emulated seconds."""

    def on_request(self, ttft_s: float, tpot_s: float, e2e_s: float, queue_s: float) -> None:
        self.requests.append(ttft_s, tpot_s, e2e_s, queue_s)

    def cursor(self) -> dict[str, int]:
        return {
            "requests": self.requests.total,
            "tokens": self.gaps.total,
            "iterations": self.lags.total,
        }

    def summary(self, requests: int = 0, tokens: int = 0, iterations: int = 0) -> dict:
        """Exact statistics of everything recorded at or after the cursor (emulated s)."""
        rows, missed_requests = self.requests.since(requests)
        gaps, missed_tokens = self.gaps.since(tokens)
        lags, missed_iterations = self.lags.since(iterations)
        out: dict = {"cursor": self.cursor(), "requests": len(rows)}
        out.update({name: stats(rows[:, i]) for i, name in enumerate(REQUEST_FIELDS)})
        out["itl_s"] = stats(gaps[:, 0])
        lag = stats(lags[:, 0])
        lag["max"] = float(lags.max()) if len(lags) else math.nan
        out["pacing_lag_s"] = {"iterations": len(lags), **lag}
        out["missed"] = {
            "requests": missed_requests,
            "tokens": missed_tokens,
            "iterations": missed_iterations,
        }
        return out
