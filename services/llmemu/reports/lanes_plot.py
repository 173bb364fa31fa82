"""The representative iteration as device lanes: one layer of each block, op by op."""

from __future__ import annotations

from typing import Any

from llmemu.core.ops import OP_NAMES
from llmemu.reports.charts import colour, png_bytes, pyplot


def _op_colour(name: str) -> str:
    return colour(OP_NAMES.index(name) if name in OP_NAMES else len(OP_NAMES))


def lanes_png(iteration: dict[str, Any]) -> bytes:
    plt = pyplot()
    bars = iteration["lanes"]
    devices = list(iteration["processors"])
    fig, ax = plt.subplots(figsize=(13, 1.2 + 0.7 * len(devices)))
    seen: set[str] = set()
    block_starts: dict[int, tuple[float, int]] = {}
    for bar in bars:
        y = devices.index(bar["device"])
        start_us, width_us = bar["start_s"] * 1e6, bar["duration_s"] * 1e6
        label = None if bar["op"] in seen else bar["op"]
        seen.add(bar["op"])
        ax.barh(
            y,
            width_us,
            left=start_us,
            height=0.6,
            color=_op_colour(bar["op"]),
            edgecolor="white",
            label=label,
        )
        block_starts.setdefault(bar["block"], (start_us, bar["repeat"]))
    for start_us, repeat in block_starts.values():
        ax.axvline(start_us, color="grey", linestyle=":", linewidth=1)
        ax.text(start_us, len(devices) - 0.45, f" layer x{repeat}", fontsize=8, color="grey")
    ax.set_yticks(range(len(devices)), devices)
    ax.set_ylim(-0.6, len(devices) - 0.1)
    ax.set(
        xlabel="microseconds (one layer of each block)",
        title=f"Iteration lanes ({iteration['timeline']} timeline); whole iteration "
        f"{iteration['iteration_s'] * 1e3:.3f} ms",
    )
    ax.legend(
        fontsize=7,
        ncol=min(6, len(seen)),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.35 if len(devices) == 1 else -0.2),
    )
    return png_bytes(fig)
