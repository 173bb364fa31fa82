"""Small HTML helpers for the report page: every number carries its JSON path and exact
value (`data-key`, `data-value`) beside the rounded text a person reads."""

from __future__ import annotations

import base64
import json
from html import escape
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
p.note { color: #555; font-size: 0.9em; }
"""


def lookup(data: Any, key: str) -> Any:
    """The value at a slash path (`points/3/result/ttft_s/p50`; numbers index lists). Not
    dots: grid keys such as `workload.arrival.rate` are themselves dotted."""
    for part in key.split("/"):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def fmt(value: Any, unit: str) -> str:
    """Rounded text: `s` shown in ms, `sec` in seconds, `%` a fraction shown as percent, `GB` bytes."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return escape(str(value))
    if unit == "s":
        return f"{value * 1e3:.3f} ms"
    if unit == "sec":
        return f"{value:.3f} s"
    if unit == "%":
        return f"{value * 100:.1f} %"
    if unit == "GB":
        return f"{value / 1e9:.2f} GB"
    if unit == "GFLOP":
        return f"{value / 1e9:.2f} GFLOP"
    if isinstance(value, int):
        return f"{value}"
    return f"{value:.3f}{' ' + unit if unit else ''}"


def num_cell(root: dict[str, Any], key: str, unit: str = "") -> str:
    value = lookup(root, key)
    return (
        f'<td class="num" data-key="{escape(key)}" data-value="{escape(json.dumps(value))}">'
        f"{fmt(value, unit)}</td>"
    )


def table(head: list[str], rows: list[list[str]]) -> str:
    """`rows` hold ready-made cells (`<td>...</td>`)."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def text_cell(value: Any) -> str:
    return f"<td>{escape(str(value))}</td>"


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )
