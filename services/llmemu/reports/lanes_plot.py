"""The representative iteration as lanes: one layer of each block, op by op, on each
processor; or, under NanoFlow, its first layers' nano-ops on each processor's compute,
memory and network lanes, each bar labelled with its nano-batch."""

from __future__ import annotations

from typing import Any

from llmemu.core.ops import OP_NAMES
from llmemu.reports.charts import colour, png_bytes, pyplot


def _op_colour(name: str) -> str:
    return colour(OP_NAMES.index(name) if name in OP_NAMES else len(OP_NAMES))


def _lane_names(bars: list[dict[str, Any]], processors: list[str]) -> list[str]:
    """Lanes in the system's processor order (the primary one at the bottom), then in order
    of appearance (NanoFlow's lanes are "<processor> <resource>")."""
    names = list(dict.fromkeys(bar["device"] for bar in bars))
    rank = {p: i for i, p in enumerate(processors)}
    return sorted(names, key=lambda n: rank.get(n.split(" ")[0], len(rank)))


def _marks(ax: Any, bars: list[dict[str, Any]], top: float) -> None:
    """Block starts (layer x repeat), or the start of each layer of a nano-op schedule."""
    starts: dict[tuple[str, int], tuple[float, str]] = {}
    for bar in bars:
        if "block" in bar:
            key, text = ("block", bar["block"]), f" layer x{bar['repeat']}"
        else:
            key, text = ("layer", bar["layer"]), f" layer {bar['layer']}"
        start_us = bar["start_s"] * 1e6
        if key not in starts or start_us < starts[key][0]:
            starts[key] = (start_us, text)
    for start_us, text in starts.values():
        ax.axvline(start_us, color="grey", linestyle=":", linewidth=1)
        ax.text(start_us, top, text, fontsize=8, color="grey")


def lanes_png(iteration: dict[str, Any]) -> bytes:
    plt = pyplot()
    bars = iteration["lanes"]
    names = _lane_names(bars, list(iteration["processors"]))
    fig, ax = plt.subplots(figsize=(13, 1.2 + 0.7 * len(names)))
    seen: set[str] = set()
    for bar in bars:
        y = names.index(bar["device"])
        start_us, width_us = bar["start_s"] * 1e6, bar["duration_s"] * 1e6
        label = None if bar["op"] in seen else bar["op"]
        seen.add(bar["op"])
        ax.barh(y, width_us, left=start_us, height=0.6, color=_op_colour(bar["op"]),
                edgecolor="white", label=label)  # fmt: skip
        if "piece" in bar:
            ax.text(start_us + width_us / 2, y, str(bar["piece"]), ha="center", va="center",
                    fontsize=6, color="white")  # fmt: skip
    _marks(ax, bars, len(names) - 0.45)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.6, len(names) - 0.1)
    nano = iteration["timeline"] == "nanoflow"
    what = "first layers, nano-batch in each bar" if nano else "one layer of each block"
    ax.set(
        xlabel=f"microseconds ({what})",
        title=f"Iteration lanes ({iteration['timeline']} timeline); whole iteration "
        f"{iteration['iteration_s'] * 1e3:.3f} ms",
    )
    ax.legend(fontsize=7, ncol=min(6, len(seen)), loc="upper center",
              bbox_to_anchor=(0.5, -0.35 if len(names) == 1 else -0.2))  # fmt: skip
    return png_bytes(fig)
