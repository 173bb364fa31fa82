"""Where a load sweep saturates: the knee of throughput against offered load."""

from __future__ import annotations

from collections.abc import Sequence

# A point is on the plateau when its throughput is within this fraction of the best.
PLATEAU_FRACTION = 0.95


def saturation_index(throughputs: Sequence[float]) -> int | None:
    """Index of the first point (in order of rising offered load) whose throughput reaches
    95% of the sweep's maximum, unless it is the last point: more load than that did not
    buy more throughput. None when only the last point comes within 95% of the best (the
    sweep never saturated) or there are fewer than two points."""
    if len(throughputs) < 2:
        return None
    threshold = PLATEAU_FRACTION * max(throughputs)
    first = next(i for i, t in enumerate(throughputs) if t >= threshold)
    return first if first < len(throughputs) - 1 else None
