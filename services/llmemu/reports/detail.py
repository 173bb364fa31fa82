"""What a report draws beyond the summary: latency distributions, utilisation over time and
one representative iteration. Added to the summary under their own keys, so the existing
keys of `simulate --json` stay as they are."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmemu.core.results import itl_distribution
from llmemu.core.simulate import SimulationRun
from llmemu.reports.iteration import representative_iteration

NUM_BINS = 40


def histogram(values: np.ndarray, weights: np.ndarray | None = None) -> dict[str, list[float]]:
    """Counts in NUM_BINS equal bins between the smallest and the largest value."""
    if values.size == 0:
        return {"edges_s": [], "counts": []}
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-9 * max(1.0, abs(high)):
        # One value, or equal values apart by float rounding (a closed loop of constant
        # lengths): too narrow for NUM_BINS finite bins, so widen to a narrow range.
        high = low + max(abs(low) * 1e-6, 1e-9)
    counts, edges = np.histogram(values, bins=NUM_BINS, range=(low, high), weights=weights)
    return {"edges_s": edges.tolist(), "counts": counts.astype(float).tolist()}


def distributions(
    run: SimulationRun, itl: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, Any]:
    """Per-request TTFT and TPOT, and the inter-token latency of every decode token (`itl`:
    itl_distribution(run.recorder) where the caller has it already)."""
    log = run.log
    first, generated = log.column("first_token_s"), log.column("generated")
    ttft = first - log.column("arrival_s")
    multi = generated > 1
    tpot = (log.column("finish_s")[multi] - first[multi]) / (generated[multi] - 1)
    itl, weights = itl if itl is not None else itl_distribution(run.recorder)
    return {
        "ttft_s": histogram(ttft),
        "tpot_s": histogram(tpot),
        "itl_s": histogram(itl, weights),
    }


def details(run: SimulationRun, itl: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """The keys a report needs, to merge into `summarize`'s dict."""
    return {
        "distributions": distributions(run, itl),
        "utilization_timeline": run.recorder.busy.to_dict(run.simulated_s),
        "iteration": representative_iteration(run),
    }
