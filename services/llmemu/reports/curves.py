"""A sweep's curves: throughput against the swept key, latency against throughput; over an
offered request rate, the saturation point of each series ringed (reports/saturation.py)."""

from __future__ import annotations

from typing import Any

from llmemu.reports.charts import colour, png_bytes, pyplot
from llmemu.reports.saturation import CRITERIA, Saturation, saturation


def load_key(grid: dict[str, list[Any]]) -> str | None:
    """The grid key that sets the offered load: one named `...rate`, else the first key
    whose values are all numbers; None if no key is numeric."""
    numeric = [k for k, vs in grid.items() if all(_is_number(v) for v in vs)]
    rates = [k for k in numeric if k.rsplit(".", 1)[-1].endswith("rate")]
    return (rates or numeric or [None])[0]


def is_rate(x_key: str) -> bool:
    """Whether the key sets an offered request rate (req/s), where saturation means something."""
    return x_key.rsplit(".", 1)[-1].endswith("rate")


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


def series_saturation(points: list[dict[str, Any]], x_key: str) -> Saturation | None:
    """Where one series (sorted by rate) saturates; None if it did not or x is not a rate."""
    if not is_rate(x_key):
        return None
    results = [p["result"] for p in points]
    return saturation(
        [float(p["params"][x_key]) for p in points],
        [r["throughput"]["requests_per_s"] for r in results],
        [r["ttft_s"]["p50"] for r in results],
        [r["throughput"]["output_tokens_per_s"] for r in results],
    )


def saturation_points(result: dict[str, Any], x_key: str) -> dict[str, tuple[dict, Saturation] | None]:  # fmt: skip
    """For each series, its saturated point and why (or None)."""
    out: dict[str, tuple[dict, Saturation] | None] = {}
    for label, points in series(result, x_key).items():
        sat = series_saturation(points, x_key)
        out[label] = (points[sat.index], sat) if sat is not None else None
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
    ringed = False
    for i, (label, points) in enumerate(series(result, x_key).items()):
        c = colour(i)
        xs = [p["params"][x_key] for p in points]
        tput = [p["result"]["throughput"]["output_tokens_per_s"] for p in points]
        found = series_saturation(points, x_key)
        sat = None if found is None else found.index
        ringed = ringed or sat is not None
        _panel(ax_tp, xs, tput, label, c, sat, "-")
        for q, style in (("p50", "-"), ("p99", "--")):
            ttft = [p["result"]["ttft_s"][q] * 1e3 for p in points]
            itl = [p["result"]["itl_s"][q] * 1e3 for p in points]
            _panel(ax_ttft, tput, ttft, f"{label} {q}", c, sat, style)
            _panel(ax_itl, tput, itl, f"{label} {q}", c, sat, style)
    title = "Throughput vs offered load" if is_rate(x_key) else f"Throughput vs {x_key}"
    ax_tp.set(xlabel=x_key, ylabel="output tokens/s", title=title)
    ax_ttft.set(xlabel="output tokens/s", ylabel="TTFT (ms)", title="TTFT vs throughput")
    ax_itl.set(
        xlabel="output tokens/s", ylabel="ITL (ms)", title="Inter-token latency vs throughput"
    )
    ax_ttft.set_yscale("log")  # TTFT grows by orders of magnitude past saturation
    ax_ttft.yaxis.set_major_formatter(ScalarFormatter())
    for ax in (ax_tp, ax_ttft, ax_itl):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")  # rising curves leave it empty; "best" is slow
    if ringed:
        fig.text(0.01, -0.02, f"red ring: saturation, the {CRITERIA}", fontsize=8, color="red")
    elif is_rate(x_key):
        fig.text(0.01, -0.02, f"no saturation in this sweep (none is the {CRITERIA})", fontsize=8)  # fmt: skip
    return png_bytes(fig)
