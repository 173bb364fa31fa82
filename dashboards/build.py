"""Writes our Grafana dashboards (dashboards/grafana/*.json): serving, devices, edge clusters.

Run `python dashboards/build.py` after changing a panel; the JSON files are committed, and a
test checks they are what this script writes, that every query parses (promtool) and that
each returns data from a live deployment. Queries use vLLM's dashboard conventions: a
`datasource` variable, `job`, `model_name` and `instance` filters, `$__rate_interval`.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "grafana"
SEL = 'job=~"$job", model_name=~"$model_name", instance=~"$instance"'
DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "[$__rate_interval]"


def q(expr: str, legend: str = "", fmt: str = "time_series") -> dict:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "format": fmt}


def quantiles(metric: str) -> list[dict]:
    return [
        q(f"histogram_quantile({p}, sum by (le) (rate({metric}_bucket{{{SEL}}}{RATE})))", f"p{round(p * 100)}")  # fmt: skip
        for p in (0.5, 0.95, 0.99)
    ] + [q(f"sum(rate({metric}_sum{{{SEL}}}{RATE})) / (sum(rate({metric}_count{{{SEL}}}{RATE})) > 0)", "mean")]  # fmt: skip


def panel(title: str, targets: list[dict], unit: str = "short", kind: str = "timeseries") -> dict:
    return {"type": kind, "title": title, "datasource": DS, "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "options": {}}  # fmt: skip


def variable(name: str, query: str) -> dict:
    return {"name": name, "type": "query", "datasource": DS, "query": query, "refresh": 2,
            "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"text": "All", "value": "$__all"}}  # fmt: skip


def dashboard(uid: str, title: str, panels: list[dict], anchor: str) -> dict:
    for i, p in enumerate(panels):
        p["id"] = i + 1
        p["gridPos"] = {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)}
        for j, t in enumerate(p["targets"]):
            t["refId"] = chr(ord("A") + j)
    templating = [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "current": {}},
        variable("job", f"label_values({anchor}, job)"),
        variable("model_name", f'label_values({anchor}{{job=~"$job"}}, model_name)'),
        variable(
            "instance",
            f'label_values({anchor}{{job=~"$job", model_name=~"$model_name"}}, instance)',
        ),  # fmt: skip
    ]
    return {"uid": uid, "title": title, "tags": ["llmemu"], "schemaVersion": 39, "version": 1,
            "editable": True, "time": {"from": "now-15m", "to": "now"}, "refresh": "5s",
            "templating": {"list": templating}, "panels": panels, "annotations": {"list": []}}  # fmt: skip


def serving() -> dict:
    return dashboard("llmemu-serving", "llmemu / Serving", [
        panel("Requests finished / s", [q(f"sum by (finished_reason) (rate(vllm:request_success_total{{{SEL}}}{RATE}))", "{{finished_reason}}")], "reqps"),  # fmt: skip
        panel("Tokens / s", [q(f"sum(rate(vllm:prompt_tokens_total{{{SEL}}}{RATE}))", "prompt"), q(f"sum(rate(vllm:generation_tokens_total{{{SEL}}}{RATE}))", "generated")]),  # fmt: skip
        panel("Time to first token", quantiles("vllm:time_to_first_token_seconds"), "s"),
        panel("Inter-token latency", quantiles("vllm:inter_token_latency_seconds"), "s"),
        panel("End-to-end latency", quantiles("vllm:e2e_request_latency_seconds"), "s"),
        panel("Scheduler queue", [q(f"sum(vllm:num_requests_running{{{SEL}}})", "running"), q(f"sum(vllm:num_requests_waiting{{{SEL}}})", "waiting")]),  # fmt: skip
        panel("KV-cache usage", [q(f"max by (instance) (vllm:kv_cache_usage_perc{{{SEL}}})", "{{instance}}")], "percentunit"),  # fmt: skip
        panel("Iteration time (emulated)", quantiles("llmemu_iteration_seconds"), "s"),
        panel("Pacing lag (wall)", quantiles("llmemu_pacing_lag_seconds"), "s"),
        panel("HTTP requests by status", [q(f'sum by (status) (rate(http_requests_total{{job=~"$job", instance=~"$instance"}}{RATE}))', "{{status}}")], "reqps"),  # fmt: skip
    ], "vllm:num_requests_running")  # fmt: skip


def devices() -> dict:
    busy = f"sum by (processor) (rate(llmemu_device_busy_seconds_total{{{SEL}}}{RATE}))"
    speed = 'scalar(max(llmemu_pacing_speed{job=~"$job", model_name=~"$model_name"}))'
    decisions = f"llmemu_routing_decisions_total{{{SEL}}}"
    return dashboard("llmemu-devices", "llmemu / Devices", [
        panel("Utilisation by processor", [q(f"{busy} / {speed}", "{{processor}}")], "percentunit"),  # fmt: skip
        panel("Op/B by operation", [q(f"sum by (op) (rate(llmemu_op_flops_total{{{SEL}}}{RATE})) / sum by (op) (rate(llmemu_op_bytes_total{{{SEL}}}{RATE}))", "{{op}}")], "short", "heatmap"),  # fmt: skip
        panel("Op/B distribution", [q(f"sum by (le) (increase(llmemu_op_intensity_flops_per_byte_bucket{{{SEL}}}{RATE}))", "{{le}}", "heatmap")], "short", "heatmap"),  # fmt: skip
        panel("Routing share by processor", [q(f"sum by (processor) (rate({decisions}{RATE})) / scalar(sum(rate({decisions}{RATE})))", "{{processor}}")], "percentunit"),  # fmt: skip
        panel("Routing by operation", [q(f"sum by (op, processor) (increase({decisions}[$__range]))", "{{op}} on {{processor}}", "table")], "short", "table"),  # fmt: skip
        panel("FLOP rate", [q(f"sum by (processor) (rate(llmemu_device_flops_total{{{SEL}}}{RATE}))", "{{processor}}")], "flops"),  # fmt: skip
        panel("Memory traffic", [q(f"sum by (processor) (rate(llmemu_device_bytes_total{{{SEL}}}{RATE}))", "{{processor}}")], "Bps"),  # fmt: skip
        panel("Operations by kind", [q(f"sum by (processor, kind) (rate(llmemu_operations_total{{{SEL}}}{RATE}))", "{{processor}} {{kind}}")], "ops"),  # fmt: skip
    ], "llmemu_device_busy_seconds_total")  # fmt: skip


def edge() -> dict:
    return dashboard("llmemu-edge", "llmemu / Edge clusters", [
        panel("All-reduce time by algorithm", [q(f"sum by (algorithm) (rate(llmemu_allreduce_seconds_total{{{SEL}}}{RATE}))", "{{algorithm}}")], "s"),  # fmt: skip
        panel("Bytes per link", [q(f"sum by (link) (rate(llmemu_link_bytes_total{{{SEL}}}{RATE}))", "{{link}}")], "Bps"),  # fmt: skip
        panel("Memory window (blocks resident)", [q(f"max by (worker) (llmemu_memory_window_blocks{{{SEL}}})", "{{worker}}")], "short", "stat"),  # fmt: skip
        panel("Memory by node", [q(f"sum by (worker, kind) (llmemu_memory_bytes{{{SEL}}})", "{{worker}} {{kind}}")], "bytes"),  # fmt: skip
        panel("Disk stalls", [q(f"sum by (worker) (rate(llmemu_disk_stall_seconds_total{{{SEL}}}{RATE}))", "{{worker}}")], "s"),  # fmt: skip
        panel("Iterations by node", [q(f"sum by (worker) (rate(llmemu_worker_iterations_total{{{SEL}}}{RATE}))", "{{worker}}")], "ops"),  # fmt: skip
    ], "llmemu_worker_iterations_total")  # fmt: skip


BUILDERS = {
    "llmemu-serving.json": serving,
    "llmemu-devices.json": devices,
    "llmemu-edge.json": edge,
}


def render(build) -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, build in BUILDERS.items():
        (OUT / name).write_text(render(build))
