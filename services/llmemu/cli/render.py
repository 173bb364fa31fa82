"""Human-readable text for CLI results."""

from __future__ import annotations

from typing import Any


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.2f} {unit}"


def _ms(stats: dict[str, float]) -> str:
    return "  ".join(f"{k} {v * 1e3:8.1f}" for k, v in stats.items())


def render_summary(s: dict[str, Any]) -> str:
    sc, th, rq = s["scenario"], s["throughput"], s["requests"]
    lines = [
        f"{sc['model']} on {sc['system']} (TP {sc['tensor_parallel']}, {sc['batching']}, {sc['routing']})",
        f"requests   {rq['completed']} completed, {rq['rejected']} rejected, {rq['preempted']} preemptions",
        *(f"rejected   {n} x {why}" for why, n in rq.get("rejected_because", {}).items()),
        f"throughput {th['output_tokens_per_s']:.1f} output tok/s, {th['total_tokens_per_s']:.1f} total tok/s, "
        f"{th['requests_per_s']:.3f} req/s",
        f"ttft ms    {_ms(s['ttft_s'])}",
        f"tpot ms    {_ms(s['tpot_s'])}",
        f"itl ms     {_ms(s['itl_s'])}",
        f"e2e ms     {_ms(s['e2e_s'])}",
        f"queue ms   {_ms(s['queue_s'])}",
    ]
    for name, d in s["devices"].items():
        lines.append(
            f"device {name} x{d['count']}: utilization {d['utilization']:.1%}, "
            f"{_si(d['flops'], 'FLOP')}, {_si(d['bytes'], 'B')}, "
            f"peak memory {d['peak_memory_bytes'] / 1e9:.1f} GB per device"
        )
    lines += _fleet_lines(s)
    lines.append(
        f"simulated {s['simulated_s']:.1f} s in {s['iterations']} iterations "
        f"({s['engine_steps']} engine steps), wall {s['wall_s']:.2f} s"
    )
    return "\n".join(lines)


def _fleet_lines(s: dict[str, Any]) -> list[str]:
    """Router, prefix cache, KV transfers and one line per replica (fleet runs only)."""
    lines = []
    if "prefix_cache" in s:
        pc = s["prefix_cache"]
        lines.append(
            f"prefix cache {pc['hit_ratio']:.1%} of {pc['query_tokens']} prompt tokens hit "
            f"({pc['offload_hit_tokens']} from the host tier)"
        )
    if "kv_transfer" in s:
        kt = s["kv_transfer"]
        lines.append(
            f"kv transfer {kt['transfers']} x over {kt['link']}: {_si(kt['bytes'], 'B')}, "
            f"p50 {kt['seconds_p50'] * 1e3:.1f} ms, p99 {kt['seconds_p99'] * 1e3:.1f} ms"
        )
    if "router" in s:
        lines.append(f"router     {s['router']['name']}")
    for name, r in s.get("replicas", {}).items():
        lines.append(
            f"  {name:<12} {r['role']:<7} {r['requests']:>7} req  {r['throughput']:>9.1f} tok/s  "
            f"ttft p50 {r['ttft_s']['p50'] * 1e3:7.1f} ms  tpot p50 {r['tpot_s']['p50'] * 1e3:6.1f} ms  "
            f"kv peak {r['kv_peak_usage']:.0%}  prefix hits {r['prefix_hit_ratio']:.0%}"
        )
    return lines


def render_explain(r: dict[str, Any]) -> str:
    head = f"{'op':<13}{'device':<12}{'GFLOP':>12}{'GB':>10}{'net GB':>9}{'Op/B':>9}{'ms':>10}"
    lines = [
        f"{r['model']} on {r['system']} (TP {r['tensor_parallel']}){' ideal' if r['ideal'] else ''}",
        head,
        "-" * len(head),
    ]
    for op in r["ops"]:
        lines.append(
            f"{op['name']:<13}{op['device']:<12}{op['flops'] / 1e9:>12.1f}{op['bytes'] / 1e9:>10.2f}"
            f"{op['net_bytes'] / 1e9:>9.2f}{op['op_per_byte']:>9.1f}{op['time_s'] * 1e3:>10.3f}"
        )
    lines.append(f"iteration {r['iteration_s'] * 1e3:.3f} ms")
    return "\n".join(lines)
