"""Paper-vs-emulator bar charts for `reproduce --report`: one small panel per claim (claims
differ in unit and magnitude), the paper's value beside ours, the ratio in the title, the
accepted band (if any) shaded green, and our bar red when it falls outside the band; the
points of a sweep the paper gives no number for share one panel.

A claim is any object or mapping with a label, the paper's value, ours and a unit; the
field names tried are listed in `FIELDS`, so this works with the reproduce registry's rows
without importing them.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

from llmemu.reports.charts import png_bytes, pyplot

FIELDS = {
    "label": ("label", "name", "claim", "metric"),
    "paper": ("paper", "paper_value", "expected"),
    "ours": ("ours", "emulator", "emulated", "measured", "value"),
    "unit": ("unit", "units"),
    "experiment": ("experiment", "source", "group"),
    "low": ("low",),
    "high": ("high",),
}
PAPER_COLOUR, OURS_COLOUR, OUTSIDE_COLOUR = "#7f7f7f", "#1f77b4", "#d62728"
OPEN_BAND = 3.0
"""A band edge more than this many times the largest value is open-ended (e.g. `>= 0`
written as [0, 1e9]): it is drawn to the axis edge, not stretching the axis to 1e9."""


def field(claim: Any, what: str) -> Any:
    """The first of FIELDS[what] that the claim has (attribute or key), else None."""
    for name in FIELDS[what]:
        value = claim.get(name) if isinstance(claim, dict) else getattr(claim, name, None)
        if value is not None:
            return value
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def _panels(claims: list[Any]) -> list[list[Any]]:
    """A panel per claim, but a run of two or more consecutive llmemu-only claims (no paper
    value, no band) with the same unit and the same first word of their label (a sweep's
    points) is one panel of bars side by side."""
    panels: list[list[Any]] = []
    for claim in claims:
        prev = panels[-1] if panels else None
        if prev is not None and _solo(claim) and _solo(prev[-1]) and _kin(prev[-1], claim):
            prev.append(claim)
        else:
            panels.append([claim])
    return panels


def _solo(claim: Any) -> bool:
    return _number(field(claim, "paper")) is None and _number(field(claim, "low")) is None


def _first_word(claim: Any) -> str:
    return str(field(claim, "label") or "").split(" ", 1)[0]


def _kin(a: Any, b: Any) -> bool:
    return field(a, "unit") == field(b, "unit") and _first_word(a) == _first_word(b)


def bar_chart_png(claims: list[Any], columns: int = 4) -> bytes:
    """Rows of `columns` single-claim panels; a group of a sweep's points takes a row."""
    plt = pyplot()
    rows: list[tuple[str, list[Any]]] = []
    for panel in _panels(claims):
        if len(panel) > 1:
            rows.append(("group", panel))
        elif rows and rows[-1][0] == "single" and len(rows[-1][1]) < max(1, columns):
            rows[-1][1].append(panel[0])
        else:
            rows.append(("single", [panel[0]]))
    columns = max([len(r) for kind, r in rows if kind == "single"] + [1])
    heights = [3.0 if kind == "single" else 1.2 + 0.25 * len(r) for kind, r in rows]
    fig = plt.figure(figsize=(3.6 * columns, sum(heights)))
    grid = fig.add_gridspec(len(rows), columns, height_ratios=heights)
    for r, (kind, members) in enumerate(rows):
        if kind == "group":
            _group(fig.add_subplot(grid[r, :]), members)
            continue
        for c, claim in enumerate(members):
            _single(fig.add_subplot(grid[r, c]), claim)
    fig.tight_layout()
    return png_bytes(fig)


def _single(ax: Any, claim: Any) -> None:
    paper, ours = _number(field(claim, "paper")), _number(field(claim, "ours"))
    names, values, colours = [], [], []
    for name, value, c in (("paper", paper, PAPER_COLOUR), ("llmemu", ours, OURS_COLOUR)):
        if value is not None:
            names.append(name)
            values.append(value)
            colours.append(c)
    low, high = _number(field(claim, "low")), _number(field(claim, "high"))
    if low is not None and high is not None and ours is not None and not low <= ours <= high:
        colours[-1] = OUTSIDE_COLOUR
    bars = ax.bar(names, values, color=colours, width=0.6, zorder=2)
    ax.bar_label(bars, labels=[f"{v:.4g}" for v in values], fontsize=8)
    ratio = f"  (x{ours / paper:.2f})" if paper and ours is not None else ""
    title = f"{field(claim, 'label') or '?'}{ratio}"
    ax.set_title("\n".join(textwrap.wrap(str(title), 34)), fontsize=8)
    ax.set_ylabel(str(field(claim, "unit") or ""), fontsize=8)
    ax.tick_params(labelsize=8)
    band = (low, high) if low is not None and high is not None else None
    _limits_and_band(ax, values, band)


def _limits_and_band(ax: Any, values: list[float], band: tuple[float, float] | None) -> None:
    """y from the bars (from 0) and the band's closed edges, 20 % headroom; a band edge
    more than OPEN_BAND times everything else is open-ended and runs to the axis edge; a
    band of one value (an exact claim such as 0 = no OOM) is a line; all zeros: 0 to 1."""
    shown = [0.0, *values]
    open_low = open_high = False
    if band is not None:
        low, high = band
        open_low = low < -OPEN_BAND * max([abs(v) for v in values] + [abs(high), 1e-12])
        open_high = high > OPEN_BAND * max([abs(v) for v in values] + [abs(low), 1e-12])
        shown += [e for e, is_open in ((low, open_low), (high, open_high)) if not is_open]
    lo, hi = min(shown), max(shown)
    if hi == lo:
        bottom, top = 0.0, 1.0
    else:
        pad = 0.2 * (hi - lo)
        bottom, top = lo - (pad if lo < 0 else 0.0), hi + (pad if hi > 0 else 0.0)
    ax.set_ylim(bottom, top)
    if band is None:
        return
    edge_low, edge_high = bottom if open_low else band[0], top if open_high else band[1]
    if edge_high > edge_low:
        ax.axhspan(edge_low, edge_high, color="#2ca02c", alpha=0.15, zorder=0, label="accepted")
    else:
        ax.axhline(band[0], color="#2ca02c", linewidth=2, alpha=0.6, zorder=3, label="accepted")


def _group(ax: Any, claims: list[Any]) -> None:
    """A sweep's points as horizontal bars in the claims' order, labelled without the words
    all their labels start with (which title the panel)."""
    words = [str(field(c, "label") or "?").split(" ") for c in claims]
    common = 0
    while all(len(w) > common + 1 and w[common] == words[0][common] for w in words):
        common += 1
    names = [" ".join(w[common:]) for w in words]
    values = [_number(field(c, "ours")) or 0.0 for c in claims]
    bars = ax.barh(names, values, color=OURS_COLOUR, height=0.6, zorder=2)
    ax.bar_label(bars, labels=[f"{v:.4g}" for v in values], fontsize=8, padding=2)
    ax.invert_yaxis()
    unit = str(field(claims[0], "unit") or "")
    head = " ".join(words[0][:common])
    ax.set_title(f"{head}: llmemu only ({len(claims)} points, {unit})", fontsize=9)
    ax.set_xlabel(unit, fontsize=8)
    ax.tick_params(labelsize=8)
    ax.margins(x=0.12)


def bar_chart(claims: list[Any], path: Path | str) -> Path:
    """Write the paper-vs-llmemu panels of `claims` as a PNG at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bar_chart_png(list(claims)))
    return path
