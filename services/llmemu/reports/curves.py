"""A load sweep's curves: throughput against offered rate, latency against throughput,
with the saturation point of each series marked."""

from __future__ import annotations

from typing import Any

from llmemu.reports.charts import colour, png_bytes, pyplot
from llmemu.reports.saturation import saturation_index


def load_key(grid: dict[str, list[Any]]) -> str | None:
    """The grid key that sets the offered load: one named `...rate`, else the first key
    whose values are all numbers; None if no key is numeric."""
    numeric = [k for k, vs in grid.items() if all(_is_number(v) for v in vs)]
    rates = [k for k in numeric if k.rsplit(".", 1)[-1].endswith("rate")]
    return (rates or numeric or [None])[0]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def series(result: dict[str, Any], x_key: str) -> dict[str, list[dict[str, Any]]]:
    """Points that ran, grouped by the other grid keys' values, sorted by the load."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for point in result["points"]:
        if "result" not in point:
            continue
        others = [f"{k}={v}" for k, v in point["params"].items() if k != x_key]
        groups.setdefault(", ".join(others) or "all", []).append(point)
    for points in groups.values():
        points.sort(key=lambda p: p["params"][x_key])
    return groups


def saturation_points(result: dict[str, Any], x_key: str) -> dict[str, dict[str, Any] | None]:
    """For each series, the point where output throughput stopped growing (or None)."""
    out = {}
    for label, points in series(result, x_key).items():
        index = saturation_index([p["result"]["throughput"]["output_tokens_per_s"] for p in points])
        out[label] = points[index] if index is not None else None
    return out


def _panel(ax: Any, xs: list, ys: list, label: str, colour_: str, sat: int | None, style: str):
    ax.plot(xs, ys, style, color=colour_, label=label, marker="o", markersize=4)
    if sat is not None:
        ax.plot(
            [xs[sat]],
            [ys[sat]],
            "o",
            markersize=13,
            markerfacecolor="none",
            markeredgecolor="red",
            markeredgewidth=2,
        )


def curves_png(result: dict[str, Any], x_key: str) -> bytes:
    plt = pyplot()
    from matplotlib.ticker import ScalarFormatter

    fig, (ax_tp, ax_ttft, ax_itl) = plt.subplots(1, 3, figsize=(15, 4.2))
    for i, (label, points) in enumerate(series(result, x_key).items()):
        c = colour(i)
        xs = [p["params"][x_key] for p in points]
        tput = [p["result"]["throughput"]["output_tokens_per_s"] for p in points]
        sat = saturation_index(tput)
        _panel(ax_tp, xs, tput, label, c, sat, "-")
        for q, style in (("p50", "-"), ("p99", "--")):
            ttft = [p["result"]["ttft_s"][q] * 1e3 for p in points]
            itl = [p["result"]["itl_s"][q] * 1e3 for p in points]
            _panel(ax_ttft, tput, ttft, f"{label} {q}", c, sat, style)
            _panel(ax_itl, tput, itl, f"{label} {q}", c, sat, style)
    ax_tp.set(xlabel=x_key, ylabel="output tokens/s", title="Throughput vs offered load")
    ax_ttft.set(xlabel="output tokens/s", ylabel="TTFT (ms)", title="TTFT vs throughput")
    ax_itl.set(
        xlabel="output tokens/s", ylabel="ITL (ms)", title="Inter-token latency vs throughput"
    )
    ax_ttft.set_yscale("log")  # TTFT grows by orders of magnitude past saturation
    ax_ttft.yaxis.set_major_formatter(ScalarFormatter())
    for ax in (ax_tp, ax_ttft, ax_itl):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.text(
        0.01,
        -0.02,
        "red ring: saturation point (first load within 95% of the best throughput)",
        fontsize=8,
        color="red",
    )
    return png_bytes(fig)
