"""Report data and the load picture of a fleet: utilisation over time averaged over each
pool's replicas, and per replica its requests, throughput and busy share over time."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmemu.core.fleet.driver import FleetRun
from llmemu.core.simulate import SimulationRun
from llmemu.reports.detail import distributions
from llmemu.reports.iteration import representative_iteration


def fleet_details(run: FleetRun, merged: SimulationRun, summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "distributions": distributions(merged),
        "utilization_timeline": _pool_timeline(run),
        "iteration": representative_iteration(merged),
    }


def _rebin(t: dict[str, Any], bin_s: float, count: int) -> dict[str, np.ndarray]:
    """A replica's utilisation series summed into bins `bin_s` wide (a power-of-two multiple
    of its own, since every series starts at 0.01 s and doubles)."""
    factor = max(1, round(bin_s / t["bin_s"])) if t["bin_s"] else 1
    out = {}
    for name, values in t["utilization"].items():
        v = np.zeros(count * factor)
        v[: min(len(values), len(v))] = values[: len(v)]
        out[name] = v.reshape(count, factor).mean(axis=1)
    return out


def _pool_timeline(run: FleetRun) -> dict[str, Any]:
    span = run.simulated_s
    timelines = [(r, r.recorder.busy.to_dict(span)) for r in run.replicas]
    bin_s = max(t["bin_s"] for _, t in timelines)
    count = int(np.ceil(span / bin_s)) if span > 0 else 0
    pools = {r.pool for r in run.replicas}
    sums: dict[str, np.ndarray] = {}
    sizes: dict[str, int] = {}
    for r, t in timelines:
        for proc, series in _rebin(t, bin_s, count).items():
            key = proc if len(pools) == 1 else f"{r.pool}/{proc}"
            sums[key] = sums.get(key, 0) + series
            sizes[key] = sizes.get(key, 0) + 1
    return {
        "bin_s": bin_s,
        "t_s": (np.arange(count) * bin_s).tolist(),
        "utilization": {k: (sums[k] / sizes[k]).tolist() for k in sorted(sums)},
    }


def replica_load_png(summary: dict[str, Any]) -> bytes:
    """Per replica: requests served (bars) and its mean batch over time (lines)."""
    from llmemu.reports.charts import colour, png_bytes, pyplot

    plt = pyplot()
    replicas = summary["replicas"]
    names = list(replicas)
    fig, (bars, lines) = plt.subplots(1, 2, figsize=(13, 3.6), width_ratios=(1, 2))
    x = np.arange(len(names))
    bars.bar(x, [replicas[n]["requests"] for n in names], color=colour(0))
    bars.set_xticks(x, names, rotation=45 if len(names) > 4 else 0, fontsize=8)
    bars.set(ylabel="requests served", title="Requests per replica")
    for i, name in enumerate(names):
        t = replicas[name]["load_timeline"]
        batch = t["utilization"].get("batch")
        if batch:
            lines.step(t["t_s"], batch, where="post", color=colour(i), label=name)
    lines.set(xlabel="virtual time (s)", ylabel="requests in the batch (mean per bin)")
    lines.set_title("Batch size per replica over time")
    lines.grid(alpha=0.3)
    if len(names) <= 12:
        lines.legend(fontsize=7, loc="lower right")
    return png_bytes(fig)
