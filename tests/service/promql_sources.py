"""Every PromQL expression of our dashboards and of vLLM's example dashboards, with Grafana's
variables replaced the way Grafana would for a dashboard showing everything."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LLMEMU_SHARED", REPO.parent / "shared"))
OURS = sorted((REPO / "dashboards" / "grafana").glob("*.json"))
VLLM = sorted((SHARED / "data" / "vllm-dashboards").glob("*.json"))

FEATURE_GATED = (
    "vllm:kv_offload_", "vllm:simple_kv_offload_", "vllm:nixl_", "vllm:lora_requests_info",
    "vllm:spec_decode_", "vllm:rl_weight_update_", "vllm:sleep_mode_operation_",
    "vllm:kv_block_", "vllm:num_requests_kv_fetch_by_stage", "vllm:external_prefix_cache_",
    "vllm:mm_cache_", "vllm:estimated_write_bytes_per_gpu",
)  # fmt: skip
"""Series vLLM itself exports only with a feature on (KV offload, NIXL disaggregation, LoRA,
speculative decoding, RL weight sync, sleep mode, --kv-cache-metrics, KV connectors,
multimodal inputs) and that the emulator does not model, or (write bytes) does not separate;
their panels are empty on a vLLM without the feature too. docs/distributed.md lists them."""


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
