"""Write a report directory: index.html (plots inlined, nothing fetched at view time), each
plot as a PNG beside it, and the result JSON it was made from."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from llmemu.core.errors import ConfigError
from llmemu.reports.html import image, num_cell, page, table, text_cell


def write_report(result: dict[str, Any], out_dir: Path) -> Path:
    """Render a `simulate` summary or a `sweep` result; returns the index.html path."""
    from llmemu.reports.single import sections

    files: dict[str, bytes] = {}
    if not isinstance(result, dict):
        result = {}  # neither kind: the error below says what is expected
    if result.get("kind") == "sweep":
        title = f"Sweep of {result['scenario']}"
        body = _sweep(result, files)
    elif "throughput" in result and "scenario" in result:
        sc = result["scenario"]
        title = f"{sc['model']} on {sc['system']}"
        body = sections(result, "", files)
    else:
        raise ConfigError(
            "report: the JSON is neither a `simulate --json` summary nor a `sweep` result"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    (out_dir / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    index = out_dir / "index.html"
    index.write_text(page(title, body))
    return index


def _sweep(result: dict[str, Any], files: dict[str, bytes]) -> str:
    from llmemu.reports.curves import curves_png, is_rate, load_key, saturation_points
    from llmemu.reports.saturation import CRITERIA
    from llmemu.reports.single import sections

    parts = [
        f'<p class="note">{len(result["points"])} points on {escape(result["ran_on"])}'
        f"{', fixed: ' + escape(' '.join(result['sets'])) if result['sets'] else ''}</p>",
        _sweep_table(result),
    ]
    x_key = load_key(result["grid"])
    detail = None
    if x_key is not None and any("result" in p for p in result["points"]):
        files["curves.png"] = curves_png(result, x_key)
        heading = "Load curves" if is_rate(x_key) else f"Curves over {escape(x_key)}"
        parts.append(f"<h2>{heading}</h2>" + image(files["curves.png"], "curves"))
    if x_key is not None and is_rate(x_key) and any("result" in p for p in result["points"]):
        rows = []
        for label, found in saturation_points(result, x_key).items():
            if found is None:
                rows.append([text_cell(label), text_cell("not reached in this sweep"), text_cell("")])  # fmt: skip
                continue
            point, sat = found
            i = result["points"].index(point)
            detail = i if detail is None else detail
            rows.append([text_cell(label), num_cell(result, f"points/{i}/params/{x_key}"), text_cell(sat.reason)])  # fmt: skip
        parts.append(table(["series", f"saturation at {x_key}", "why"], rows))
        parts.append(f'<p class="note">Saturation: the {escape(CRITERIA)}.</p>')
    ran = [i for i, p in enumerate(result["points"]) if "result" in p]
    if ran:
        detail = ran[-1] if detail is None else detail
        params = ", ".join(f"{k}={v}" for k, v in result["points"][detail]["params"].items())
        parts.append(f"<h2>Point {escape(params)}</h2>")
        parts.append(sections(result, f"points/{detail}/result/", files))
    return "".join(parts)


def _sweep_table(result: dict[str, Any]) -> str:
    keys = list(result["grid"])
    metrics = [
        ("out tok/s", "throughput/output_tokens_per_s", "tok/s"),
        ("req/s", "throughput/requests_per_s", "req/s"),
        ("TTFT p50", "ttft_s/p50", "s"),
        ("TTFT p99", "ttft_s/p99", "s"),
        ("ITL p50", "itl_s/p50", "s"),
        ("ITL p99", "itl_s/p99", "s"),
        ("TPOT mean", "tpot_s/mean", "s"),
    ]
    rows = []
    for i, point in enumerate(result["points"]):
        cells = [text_cell(point["params"][k]) for k in keys]
        if "result" in point:
            cells += [num_cell(result, f"points/{i}/result/{key}", u) for _, key, u in metrics]
        else:
            cells.append(f'<td colspan="{len(metrics)}">error: {escape(point["error"])}</td>')
        rows.append(cells)
    return "<h2>Points</h2>" + table([*keys, *(m[0] for m in metrics)], rows)
