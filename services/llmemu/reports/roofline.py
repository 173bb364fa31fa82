"""A roofline per processor: every operation of the representative iteration at its Op/B
and the FLOP/s it achieved on one device, under the peak and the calibrated roofs."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmemu.core.ops import OP_NAMES
from llmemu.reports.charts import colour, png_bytes, pyplot

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def achieved_points(iteration: dict[str, Any], device: str) -> list[dict[str, float | str]]:
    """(op, Op/B, FLOP/s per device) of each op that computes on `device` (not collectives:
    links bound them, not this roofline). Rows hold the
    whole replica's FLOPs and each device's time, so one device achieves
    flops / (devices * time)."""
    count = iteration["processors"][device]["count"]
    return [
        {
            "op": r["name"],
            "op_per_byte": r["op_per_byte"],
            "flops_per_s": r["flops"] / (count * r["time_s"]),
        }
        for r in iteration["ops"]
        if r["device"] == device
        and r["flops"] > 0
        and r["bytes"] > 0
        and r["time_s"] > 0
        and not r.get("net_bytes")  # collectives are bound by links, not by this roofline
    ]


def roofline_png(iteration: dict[str, Any], device: str) -> bytes:
    plt = pyplot()
    spec = iteration["processors"][device]
    points = achieved_points(iteration, device)
    xs = [p["op_per_byte"] for p in points] or [1.0]
    ridge = spec["peak_flops"] / spec["peak_bytes_per_s"]
    lo = min(0.1, min(xs) / 3)
    hi = max(10 * ridge, max(xs) * 3)
    grid = np.logspace(np.log10(lo), np.log10(hi), 200)
    fig, ax = plt.subplots(figsize=(7, 4.6))
    ax.plot(
        grid,
        np.minimum(spec["peak_flops"], spec["peak_bytes_per_s"] * grid),
        "k-",
        label=f"peak roof (ridge {ridge:.0f} FLOP/B)",
    )
    ax.plot(
        grid,
        np.minimum(spec["effective_flops"], spec["effective_bytes_per_s"] * grid),
        "k--",
        alpha=0.6,
        label="calibrated roof (efficiencies)",
    )
    # Ops of a layer often share an Op/B (GEMMs of one batch): distinct markers keep each
    # visible where labels would overlap.
    for i, p in enumerate(points):
        c = colour(OP_NAMES.index(p["op"]) if p["op"] in OP_NAMES else len(OP_NAMES))
        marker = MARKERS[i % len(MARKERS)]
        ax.plot(
            p["op_per_byte"],
            p["flops_per_s"],
            marker,
            color=c,
            markersize=9,
            markeredgecolor="black",
            markeredgewidth=0.5,
            label=p["op"],
            alpha=0.85,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(
        xlabel="arithmetic intensity (FLOP/byte)",
        ylabel="FLOP/s per device",
        title=f"Roofline: {device} ({spec['kind']}, x{spec['count']})",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    return png_bytes(fig)
