"""Per-processor utilisation over the run's virtual time."""

from __future__ import annotations

from typing import Any

from llmemu.reports.charts import colour, png_bytes, pyplot


def utilization_png(summary: dict[str, Any]) -> bytes:
    plt = pyplot()
    series = summary["utilization_timeline"]
    fig, ax = plt.subplots(figsize=(12, 3.4))
    for i, (name, values) in enumerate(series["utilization"].items()):
        mean = summary["devices"][name]["utilization"]
        ax.step(
            series["t_s"],
            [v * 100 for v in values],
            where="post",
            color=colour(i),
            label=f"{name} (mean {mean:.1%})",
        )
    ax.set(
        xlabel="virtual time (s)",
        ylabel="busy (%)",
        ylim=(0, 105),
        title=f"Utilisation per processor ({series['bin_s']:.3g} s bins)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return png_bytes(fig)
