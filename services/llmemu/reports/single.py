"""Report sections for one simulation's summary: numbers, latency distributions,
utilisation over time, a roofline per processor, the iteration's lanes and its ops."""

from __future__ import annotations

from html import escape
from typing import Any

from llmemu.reports.html import image, num_cell, table, text_cell

# (label, summary key, unit) of the numbers table.
NUMBERS = [
    ("output tokens/s", "throughput/output_tokens_per_s", "tok/s"),
    ("total tokens/s", "throughput/total_tokens_per_s", "tok/s"),
    ("requests/s", "throughput/requests_per_s", "req/s"),
    ("completed", "requests/completed", ""),
    ("rejected", "requests/rejected", ""),
    ("preemptions", "requests/preempted", ""),
    ("KV cache peak usage", "memory/kv_peak_usage", "%"),
    ("simulated time", "simulated_s", "sec"),
    ("iterations", "iterations", ""),
]
LATENCIES = [
    ("TTFT", "ttft_s"),
    ("TPOT", "tpot_s"),
    ("ITL", "itl_s"),
    ("E2E", "e2e_s"),
    ("queue", "queue_s"),
]
QUANTILES = ("mean", "p50", "p90", "p99")


def sections(root: dict[str, Any], prefix: str, files: dict[str, bytes]) -> str:
    """HTML for the summary found at `prefix` in `root` (prefix "" or "points/3/result/");
    each plot is also put in `files` under its file name."""
    from llmemu.reports.latency_plots import distributions_png
    from llmemu.reports.utilization_plot import utilization_png

    summary = root if not prefix else _at(root, prefix)
    parts = [_numbers(root, prefix, summary)]
    if "distributions" in summary:
        files["distributions.png"] = distributions_png(summary)
        parts.append(
            "<h2>Latency distributions</h2>" + image(files["distributions.png"], "latency")
        )
    if "utilization_timeline" in summary:
        files["utilization.png"] = utilization_png(summary)
        parts.append("<h2>Utilisation over time</h2>" + image(files["utilization.png"], "util"))
    if "replicas" in summary:
        from llmemu.reports.fleet import replica_load_png

        files["replicas.png"] = replica_load_png(summary)
        parts.append("<h2>Load per replica</h2>" + image(files["replicas.png"], "replicas"))
    if summary.get("iteration"):
        parts.append(_iteration(root, prefix, summary["iteration"], files))
    return "".join(parts)


def _at(root: dict[str, Any], prefix: str) -> dict[str, Any]:
    from llmemu.reports.html import lookup

    return lookup(root, prefix.rstrip("/"))


def _numbers(root: dict[str, Any], prefix: str, summary: dict[str, Any]) -> str:
    sc = summary["scenario"]
    head = (
        f"<p>{escape(sc['model'])} on {escape(sc['system'])} (TP {sc['tensor_parallel']}, "
        f"batching {escape(sc['batching'])}, routing {escape(sc['routing'])})</p>"
    )
    rows = [[text_cell(label), num_cell(root, prefix + key, unit)] for label, key, unit in NUMBERS]
    rows += [
        [
            text_cell(f"{name} utilisation (x{d['count']})"),
            num_cell(root, f"{prefix}devices/{name}/utilization", "%"),
        ]
        for name, d in summary["devices"].items()
    ]
    lat = [
        [text_cell(label)] + [num_cell(root, f"{prefix}{key}/{q}", "s") for q in QUANTILES]
        for label, key in LATENCIES
    ]
    return (
        head + "<h2>Summary</h2>" + table(["", "value"], rows) + table(["latency", *QUANTILES], lat)
    )


def _iteration(root: dict[str, Any], prefix: str, it: dict[str, Any], files: dict) -> str:
    from llmemu.reports.lanes_plot import lanes_png
    from llmemu.reports.roofline import roofline_png

    key = prefix + "iteration/"
    batch = it["batch"]
    parts = [
        "<h2>Representative iteration</h2>",
        f'<p class="note">The run\'s mean iteration: {batch["num_decode"]} decoding requests '
        f"({batch['decode_context']} context tokens in all) and a prefill chunk of "
        f"{batch['prefill_tokens']} tokens; it lasts</p>",
        table(["iteration"], [[num_cell(root, key + "iteration_s", "s")]]),
    ]
    files["lanes.png"] = lanes_png(it)
    parts.append(image(files["lanes.png"], "lanes"))
    for device in it["processors"]:
        name = f"roofline-{device}.png"
        files[name] = roofline_png(it, device)
        parts.append(image(files[name], name))
    rows = [
        [
            text_cell(op["name"]),
            text_cell(op["device"]),
            num_cell(root, f"{key}ops/{i}/flops", "GFLOP"),
            num_cell(root, f"{key}ops/{i}/bytes", "GB"),
            num_cell(root, f"{key}ops/{i}/op_per_byte", "FLOP/B"),
            num_cell(root, f"{key}ops/{i}/time_s", "s"),
        ]
        for i, op in enumerate(it["ops"])
    ]
    parts.append(table(["op", "device", "FLOPs", "bytes", "Op/B", "time (all layers)"], rows))
    return "".join(parts)
