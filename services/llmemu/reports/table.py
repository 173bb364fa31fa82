"""A sweep's points as rows: flat scalar columns for CSV, a few of them for the terminal."""

from __future__ import annotations

import csv
import io
from typing import Any

from llmemu.reports.numbers import sig

# Summary sections whose scalar fields become CSV columns, in this order.
_SECTIONS = ("throughput", "ttft_s", "tpot_s", "itl_s", "e2e_s", "queue_s", "requests", "memory")
_TOP = ("simulated_s", "iterations", "engine_steps", "wall_s")


def flat_row(point: dict[str, Any]) -> dict[str, Any]:
    """Grid values, then `section.field` of every summary number, then per-device
    utilisation, then the error (empty when the point ran)."""
    row: dict[str, Any] = dict(point["params"])
    result = point.get("result") or {}
    for section in _SECTIONS:
        for key, value in (result.get(section) or {}).items():
            row[f"{section}.{key}"] = value
    for key in _TOP:
        row[key] = result.get(key, "")
    for name, device in (result.get("devices") or {}).items():
        row[f"devices.{name}.utilization"] = device["utilization"]
    row["error"] = point.get("error", "")
    return row


def to_csv(result: dict[str, Any]) -> str:
    rows = [flat_row(p) for p in result["points"]]
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def render_table(result: dict[str, Any]) -> str:
    keys = list(result["grid"])
    head = [*keys, "req/s", "out tok/s", "ttft p50 ms", "ttft p99 ms", "itl p50 ms", "tpot ms"]
    lines = []
    for point in result["points"]:
        cells = [str(point["params"][k]) for k in keys]
        r = point.get("result")
        if r is None:
            cells.append("error: " + point["error"])
        else:
            cells += [
                sig(r["throughput"]["requests_per_s"], decimals=3),
                sig(r["throughput"]["output_tokens_per_s"]),
                f"{r['ttft_s']['p50'] * 1e3:.1f}",
                f"{r['ttft_s']['p99'] * 1e3:.1f}",
                f"{r['itl_s']['p50'] * 1e3:.2f}",
                f"{r['tpot_s']['mean'] * 1e3:.2f}",
            ]
        lines.append(cells)
    # An error row's message does not widen the metric columns: it is printed unpadded.
    widths = [len(h) for h in head]
    for cells in lines:
        shown = cells if len(cells) == len(head) else cells[: len(keys)]
        for i, cell in enumerate(shown):
            widths[i] = max(widths[i], len(cell))
    text = [_join(head, widths), _join(["-" * w for w in widths], widths)]
    for cells in lines:
        if len(cells) == len(head):
            text.append(_join(cells, widths))
        else:  # grid values then the error message, unpadded
            text.append(_join(cells[:-1], widths) + "  " + cells[-1])
    text.append(f"{len(lines)} points on {result['ran_on']}, wall {result['wall_s']:.2f} s")
    return "\n".join(text)


def _join(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=False))
