"""Every PromQL expression of our dashboards and of vLLM's example dashboards, with Grafana's
variables replaced the way Grafana would for a dashboard showing everything."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OURS = sorted((REPO / "dashboards" / "grafana").glob("*.json"))
VLLM = sorted((REPO / "data" / "vllm-dashboards").glob("*.json"))

NOT_MODELLED: tuple[str, ...] = ()
"""Series of values the emulator could compute but does not export yet (none)."""
IDLE_PREFIXES = ("vllm:kv_offload_", "vllm:simple_kv_offload_", "vllm:nixl_", "vllm:spec_decode_",
                 "vllm:sleep_mode_operation_", "vllm:external_prefix_cache_", "vllm:mm_cache_")  # fmt: skip
"""Features the emulated server has but never uses (service/metrics_idle.py): their series
are at zero, so a ratio guarded by `> 0` on their rate is empty, as on a vLLM with the
feature idle; for those the test checks that every series the expression reads exists."""
NEVER_OBSERVED = ("vllm:kv_block_reuse_gap_",)
"""Series exported with no observations because their event never happens here: a reuse gap
needs a prefix-cache hit (service/metrics_kv_blocks.py). Checked like the idle features."""
FEATURE_GATED = NOT_MODELLED


def idle_feature(expr: str) -> bool:
    return any(name in expr for name in IDLE_PREFIXES + NEVER_OBSERVED)


def idle_series(expr: str) -> set[str]:
    """The idle-feature series an expression reads (histograms by their _count)."""
    names = {n for n in re.findall(r"vllm:[a-z_:]+", expr) if n.startswith(IDLE_PREFIXES + NEVER_OBSERVED)}  # fmt: skip
    return {re.sub(r"_(bucket|sum)$", "_count", n) for n in names}


def feature_gated(expr: str) -> bool:
    return any(name in expr for name in FEATURE_GATED)


def _exprs(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        expr = node.get("expr")
        if isinstance(expr, str) and expr.strip():
            found.append(expr)
        for value in node.values():
            found += _exprs(value)
    elif isinstance(node, list):
        for value in node:
            found += _exprs(value)
    return found


def _defaults(dash: dict) -> dict[str, str]:
    out = {}
    for var in dash.get("templating", {}).get("list", []):
        value = (var.get("current") or {}).get("value")
        if isinstance(value, str) and not value.startswith("$"):
            out[var["name"]] = value
    return out


def substitute(expr: str, model: str, defaults: dict[str, str]) -> str:
    expr = expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
    expr = expr.replace("$__interval", "15s")
    expr = re.sub(r'=~"\$\{?\w+\}?"', '=~".*"', expr)  # multi-value filters: All
    # A query variable takes the values Prometheus has (label_values), not the saved one.
    concrete = {**defaults, "model_name": model, "engine": "0"}
    return re.sub(r"\$\{?(\w+)\}?", lambda m: concrete.get(m.group(1), ".*"), expr)


def dashboard_queries(model: str, files: list[Path] | None = None) -> list[tuple[str, str]]:
    """(file name, expression) for every query target of every dashboard."""
    out = []
    for path in files if files is not None else OURS + VLLM:
        dash = json.loads(path.read_text())
        defaults = _defaults(dash)
        out += [(path.name, substitute(e, model, defaults)) for e in _exprs(dash.get("panels", []))]  # fmt: skip
    return out
