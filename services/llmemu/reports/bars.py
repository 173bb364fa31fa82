"""Paper-vs-emulator bar charts for `reproduce --report`: one small panel per claim (claims
differ in unit and magnitude), the paper's value beside ours, the ratio in the title, the
accepted band (if any) shaded green, and our bar red when it falls outside the band.

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


def bar_chart_png(claims: list[Any], columns: int = 4) -> bytes:
    plt = pyplot()
    columns = max(1, min(columns, len(claims)))
    rows = max(1, math.ceil(len(claims) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(claims) :]:
        ax.axis("off")
    for ax, claim in zip(axes.flat, claims, strict=False):
        paper, ours = _number(field(claim, "paper")), _number(field(claim, "ours"))
        names, values, colours = [], [], []
        for name, value, c in (("paper", paper, PAPER_COLOUR), ("llmemu", ours, OURS_COLOUR)):
            if value is not None:
                names.append(name)
                values.append(value)
                colours.append(c)
        low, high = _number(field(claim, "low")), _number(field(claim, "high"))
        if low is not None and high is not None:  # the claim's acceptance band
            ax.axhspan(low, high, color="#2ca02c", alpha=0.15, label="accepted")
            if ours is not None and not low <= ours <= high:
                colours[-1] = OUTSIDE_COLOUR
        bars = ax.bar(names, values, color=colours, width=0.6)
        ax.bar_label(bars, labels=[f"{v:.4g}" for v in values], fontsize=8)
        ratio = f"  (x{ours / paper:.2f})" if paper and ours is not None else ""
        title = f"{field(claim, 'label') or '?'}{ratio}"
        ax.set_title("\n".join(textwrap.wrap(str(title), 34)), fontsize=8)
        ax.set_ylabel(str(field(claim, "unit") or ""), fontsize=8)
        ax.tick_params(labelsize=8)
        ax.margins(y=0.2)
    fig.tight_layout()
    return png_bytes(fig)


def bar_chart(claims: list[Any], path: Path | str) -> Path:
    """Write the paper-vs-llmemu panels of `claims` as a PNG at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bar_chart_png(list(claims)))
    return path
