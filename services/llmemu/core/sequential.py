"""`sequential` batching: the non-overlapped engine, one operation after another on the
whole device (NanoFlow's "non-overlap" baseline). On a one-processor system it times an
iteration like `continuous`; on systems with several processors nothing overlaps either."""

from __future__ import annotations

from llmemu.core.pricing import PlanPricer
from llmemu.core.timeline import serial


def sequential(parts) -> PlanPricer:
    return PlanPricer(parts.model, parts.pricer, parts.router, serial, parts.experts)
