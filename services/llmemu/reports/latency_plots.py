"""TTFT, TPOT and inter-token latency histograms, with the summary's p50 and p99 marked."""

from __future__ import annotations

from typing import Any

from llmemu.reports.charts import png_bytes, pyplot

PANELS = (
    ("ttft_s", "Time to first token", "requests"),
    ("tpot_s", "Time per output token (per request)", "requests"),
    ("itl_s", "Inter-token latency", "tokens"),
)


def distributions_png(summary: dict[str, Any]) -> bytes:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    for ax, (key, title, unit) in zip(axes, PANELS, strict=True):
        hist = summary["distributions"][key]
        edges = [e * 1e3 for e in hist["edges_s"]]
        if edges:
            widths = [b - a for a, b in zip(edges, edges[1:], strict=False)]
            ax.bar(
                edges[:-1], hist["counts"], width=widths, align="edge", color="#1f77b4", alpha=0.8
            )
        for q, style in (("p50", "-"), ("p99", "--")):
            value = summary[key][q] * 1e3
            ax.axvline(value, color="red", linestyle=style, label=f"{q} {value:.2f} ms")
        ax.set(title=title, xlabel="ms", ylabel=unit)
        if key == "itl_s":  # iterations that carry a prefill form a thin, long tail
            ax.set_yscale("log")
        ax.legend(fontsize=8, loc="upper right")  # "best" searches, slowly on long tails
        ax.grid(alpha=0.3)
    return png_bytes(fig)
