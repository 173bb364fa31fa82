"""`GET /llmemu/timings`: exact emulated percentiles since a cursor (metrics/timings.py)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Query

from llmemu.service.metrics.serving import ServingMetrics

TIMINGS_PATH = "/llmemu/timings"


def _finite(node: Any) -> Any:
    """JSON has no NaN: a statistic of nothing is null."""
    if isinstance(node, dict):
        return {k: _finite(v) for k, v in node.items()}
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


def install_timings(app: FastAPI, metrics: ServingMetrics) -> None:
    @app.get(TIMINGS_PATH, include_in_schema=False)
    async def timings(
        requests: int = Query(0, ge=0, description="request cursor of an earlier answer"),
        tokens: int = Query(0, ge=0, description="token cursor of an earlier answer"),
        iterations: int = Query(0, ge=0, description="iteration cursor of an earlier answer"),
    ) -> dict:
        metrics.lag.check()
        out = metrics.timings.summary(requests, tokens, iterations)
        lag = metrics.lag
        out["pacing_lag_monitor"] = {
            "recent_p99_s": lag.p99_s,
            "window_s": lag.window_s,
            "bound_s": lag.bound_s,
            "over_bound": lag.over,
            "warnings": lag.warnings,
        }
        out["speed"] = lag.speed
        return _finite(out)
