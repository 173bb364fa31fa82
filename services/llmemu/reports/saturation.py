"""Where a load sweep saturates.

A sweep over the offered request rate saturates at the first load where the system stops
keeping up: it delivers under 90 % of the offered request rate while the median TTFT has at
least doubled against the lowest load (requests queue: the arrival rate exceeds the service
rate), or its output throughput has stopped growing (within 95 % of the sweep's best at a
lower load than the highest). Delivered alone is not enough: a finite run's rate counts the
drain of its last requests, a few per cent under the offered rate on an idle system."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PLATEAU_FRACTION = 0.95
DELIVERED_FRACTION = 0.90
TTFT_GROWTH = 2.0
CRITERIA = (
    f"first offered rate delivering under {DELIVERED_FRACTION:.0%} of it with TTFT p50 "
    f"{TTFT_GROWTH:g}x the lowest load's or more, or whose throughput is within "
    f"{PLATEAU_FRACTION:.0%} of the best with more load still to come"
)
"""How the caption and the table describe the rule."""


@dataclass(frozen=True, slots=True)
class Saturation:
    index: int
    reason: str


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


def saturation(
    offered: Sequence[float],
    delivered: Sequence[float],
    ttft_p50_s: Sequence[float],
    throughputs: Sequence[float],
) -> Saturation | None:
    """The first saturated point of a sweep over offered request rate (rising), or None."""
    plateau = saturation_index(throughputs)
    for i, (rate, got, ttft) in enumerate(zip(offered, delivered, ttft_p50_s, strict=True)):
        growth = ttft / ttft_p50_s[0] if ttft_p50_s[0] > 0 else 1.0
        if got < DELIVERED_FRACTION * rate and growth >= TTFT_GROWTH:
            return Saturation(
                i,
                f"delivered {got:.3g} of {rate:.3g} req/s offered, "
                f"TTFT p50 {ttft * 1e3:.3g} ms ({growth:.3g}x the lowest load's)",
            )
        if i == plateau:
            return Saturation(i, f"throughput within {PLATEAU_FRACTION:.0%} of the best")
    return None
