"""What `llmemu bench` reports: client-observed latencies and throughput, and beside them the
emulated ones and the server's pacing lag over the run.

An llmemu server keeps exact per-request records (service/metrics/timings.py): the emulated
percentiles are those of every request and token the server recorded between the two reads
that bracket the run, and the lag is that of every iteration in between. A server without
them (another OpenAI-compatible endpoint) gives the difference of two /metrics scrapes:
exact means (_sum/_count) but percentiles interpolated inside histogram buckets, as
Prometheus' histogram_quantile does, marked with * in the table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from llmemu.reports.numbers import sig
from llmemu.service.bench.load import Record

HISTOGRAMS = {
    "ttft_s": "vllm:time_to_first_token_seconds",
    "itl_s": "vllm:inter_token_latency_seconds",
    "tpot_s": "vllm:request_time_per_output_token_seconds",
    "e2e_s": "vllm:e2e_request_latency_seconds",
}


def stats(values: list[float] | np.ndarray) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return {"mean": math.nan, "p50": math.nan, "p90": math.nan, "p99": math.nan}
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"mean": float(arr.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99)}


def client_summary(records: list[Record], span_s: float, speed: float) -> dict[str, Any]:
    ok = [r for r in records if r.error is None and r.chunk_s]
    ttft = [r.chunk_s[0] - r.sent_s for r in ok]
    itl = [b - a for r in ok for a, b in zip(r.chunk_s, r.chunk_s[1:], strict=False)]
    tpot = [(r.chunk_s[-1] - r.chunk_s[0]) / (len(r.chunk_s) - 1) for r in ok if len(r.chunk_s) > 1]  # fmt: skip
    e2e = [r.end_s - r.sent_s for r in ok]
    out_tokens = sum((r.usage or {}).get("completion_tokens", len(r.chunk_s)) for r in ok)
    # Client wall seconds times speed: comparable with the emulated seconds of /metrics.
    scale = speed
    return {
        "completed": len(ok),
        "errors": len(records) - len(ok),
        "error_examples": sorted({r.error for r in records if r.error})[:3],
        "wall_s": span_s,
        "requests_per_s": len(ok) / (span_s * scale) if span_s else 0.0,
        "output_tokens_per_s": out_tokens / (span_s * scale) if span_s else 0.0,
        **{
            k: _scaled(stats(v), scale)
            for k, v in (("ttft_s", ttft), ("itl_s", itl), ("tpot_s", tpot), ("e2e_s", e2e))
        },  # fmt: skip
    }


def _scaled(s: dict[str, float], k: float) -> dict[str, float]:
    return {key: value * k for key, value in s.items()}


def parse_histograms(text: str) -> dict[str, dict[str, Any]]:
    """name -> {"buckets": [(le, cumulative count)], "sum", "count"} (summed over labels)."""
    out: dict[str, dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        if family.type != "histogram":
            continue
        h = out.setdefault(family.name, {"buckets": {}, "sum": 0.0, "count": 0.0})
        for s in family.samples:
            if s.name.endswith("_bucket"):
                le = float(s.labels["le"])
                h["buckets"][le] = h["buckets"].get(le, 0.0) + s.value
            elif s.name.endswith("_sum"):
                h["sum"] += s.value
            elif s.name.endswith("_count"):
                h["count"] += s.value
    return out


def gauge(text: str, name: str, default: float) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == name and family.samples:
            return float(family.samples[0].value)
    return default


def quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """histogram_quantile: linear interpolation inside the bucket holding rank q*count."""
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    rank = q * buckets[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            width = count - prev_count
            return prev_le + (le - prev_le) * ((rank - prev_count) / width if width else 0.0)
        prev_le, prev_count = le, count
    return prev_le


def emulated_summary(before: str, after: str) -> dict[str, Any]:
    h0, h1 = parse_histograms(before), parse_histograms(after)
    result: dict[str, Any] = {}
    for key, name in HISTOGRAMS.items():
        a, b = h0.get(name), h1.get(name)
        if b is None:
            continue
        a = a or {"buckets": {}, "sum": 0.0, "count": 0.0}
        count = b["count"] - a["count"]
        buckets = sorted((le, c - a["buckets"].get(le, 0.0)) for le, c in b["buckets"].items())
        mean = (b["sum"] - a["sum"]) / count if count else math.nan
        result[key] = {"mean": mean, **{f"p{int(q * 100)}": quantile(q, buckets) for q in (0.5, 0.9, 0.99)}}  # fmt: skip
    return result


def exact_summary(timings: dict[str, Any], warnings_before: int = 0) -> dict[str, Any]:
    """The emulated part of the report from /llmemu/timings (seconds, exact)."""
    emulated = {key: timings[key] for key in HISTOGRAMS}
    lag, monitor = timings["pacing_lag_s"], timings["pacing_lag_monitor"]
    warnings = monitor["warnings"] - warnings_before
    p99 = lag["p99"]
    over = (p99 is not None and p99 > monitor["bound_s"]) or warnings > 0
    warning = None
    if over:
        warning = (
            f"pacing lag p99 {_ms(p99)} ms (emulated) over the run exceeds the server's bound of "
            f"{monitor['bound_s'] * 1e3:g} ms: the host did not keep up, so client-observed "
            "latencies exceed the emulated ones; lower --concurrency/--rate, or serve with a "
            "lower --speed"
        )
    return {
        "emulated": emulated,
        "emulated_source": "exact",
        "emulated_requests": timings["requests"],
        "missed": timings["missed"],
        "pacing_lag": {
            **lag,
            "bound_s": monitor["bound_s"],
            "server_warnings": warnings,
            "over_bound": over,
        },  # fmt: skip
        "warning": warning,
    }


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None or math.isnan(seconds) else f"{seconds * 1e3:.2f}"


def render(report: dict[str, Any]) -> str:
    c, e = report["client"], report["emulated"]
    exact = report.get("emulated_source") == "exact"
    lines = [
        f"{c['completed']} requests completed, {c['errors']} errors, {c['wall_s']:.2f} s wall"
        f" at speed {report['speed']:g}",
        f"throughput: {sig(c['requests_per_s'], decimals=2)} req/s, {sig(c['output_tokens_per_s'])} output"
        " tok/s (per emulated second)",
        "ms        client: mean     p50     p99 | emulated: mean     p50     p99"
        if exact
        else "ms        client: mean     p50     p99 | emulated: mean    p50*    p99*",
    ]
    for key in HISTOGRAMS:
        cs, es = c[key], e.get(key, {})
        row = [cs["mean"], cs["p50"], cs["p99"]]
        row += [es.get(k) for k in ("mean", "p50", "p99")]
        cells = [f"{_ms(v):>8}" for v in row]
        lines.append(f"{key[:-2].upper():6}  {''.join(cells[:3])} | {''.join(cells[3:])}")
    if exact:
        lines.append("client: wall seconds x speed; emulated: exact, from the server's records")
    else:
        lines.append("client: wall seconds x speed; *: interpolated inside /metrics buckets")
    lag = report.get("pacing_lag")
    if lag:
        lines.append(
            f"pacing lag (emulated ms, {lag['iterations']} iterations): p50 {_ms(lag['p50'])}"
            f", p99 {_ms(lag['p99'])}, max {_ms(lag['max'])}; bound {lag['bound_s'] * 1e3:g}"
        )
    missed = {k: n for k, n in (report.get("missed") or {}).items() if n}
    if missed:
        held = ", ".join(f"{n} {k}" for k, n in missed.items())
        lines.append(f"note: the server's records no longer held {held} of the run (not counted)")
    if report.get("warning"):
        lines.append(f"warning: {report['warning']}")
    lines += [f"error: {err}" for err in c["error_examples"]]
    return "\n".join(lines)
