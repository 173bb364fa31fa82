"""`reproduce --report DIR`: the claims as bar charts (one PNG per experiment) and a table,
on one self-contained page."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from llmemu.reports.bars import bar_chart_png, field
from llmemu.reports.html import fmt, image, page, table, text_cell


def _value_cell(value: Any, key: str) -> str:
    data = escape(json.dumps(value))
    shown = "-" if value is None else fmt(value, "")  # a claim the paper gives no number for
    return f'<td class="num" data-key="{escape(key)}" data-value="{data}">{shown}</td>'


def write_claims_report(
    claims: list[Any], out_dir: Path | str, title: str = "", experiment: str = "claims"
) -> Path:
    """index.html and claims-<experiment>.png in out_dir (claims that name their own
    experiment are grouped by it); returns the index path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[tuple[int, Any]]] = {}
    for i, claim in enumerate(claims):
        groups.setdefault(str(field(claim, "experiment") or experiment), []).append((i, claim))
    parts = []
    for name, members in groups.items():
        png = bar_chart_png([c for _, c in members])
        file = "claims-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)
        (out_dir / f"{file}.png").write_bytes(png)
        rows = [
            [
                text_cell(field(c, "label")),
                _value_cell(field(c, "paper"), f"{i}/paper"),
                _value_cell(field(c, "ours"), f"{i}/ours"),
                text_cell(field(c, "unit") or ""),
                text_cell(_band(c)),
            ]
            for i, c in members
        ]
        parts.append(
            f"<h2>{escape(name)}</h2>"
            + image(png, name)
            + table(["claim", "paper", "llmemu", "unit", "accepted"], rows)
        )
    index = out_dir / "index.html"
    index.write_text(page(title or "Paper vs llmemu", "".join(parts)))
    return index


def _band(claim: Any) -> str:
    low, high = field(claim, "low"), field(claim, "high")
    return "" if low is None or high is None else f"{low:.4g} .. {high:.4g}"
