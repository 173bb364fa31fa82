"""Human-readable text for CLI results."""

from __future__ import annotations

from typing import Any

from llmemu.reports.numbers import sig


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.2f} {unit}"


def _ms(stats: dict[str, float]) -> str:
    return "  ".join(f"{k} {v * 1e3:8.1f}" for k, v in stats.items())


def policy_report(policy, from_system: tuple[str, ...], system: str) -> dict[str, Any]:
    """The policy a run used, every field, and which of them its system preset supplied."""
    return {**policy.model_dump(), "from_system": list(from_system), "system": system}


def render_policy(p: dict[str, Any]) -> str:
    shown = ["batching", "routing", "allreduce", "admission"]
    shown += [k for k in ("sub_batches", "memory_window") if p.get(k) not in (None, 1)]
    text = ", ".join(f"{k} {p[k]}" for k in shown)
    if p.get("options") and not p.get("searched_pipeline"):
        text += ", options " + ", ".join(f"{k}={v}" for k, v in p["options"].items())
    if p.get("searched_pipeline"):
        text += f" (nanoflow pipeline searched for this scenario: {p['searched_pipeline']})"
    if p.get("from_system"):
        text += f" ({', '.join(p['from_system'])} from the {p['system']} preset)"
    return f"policy     {text}"


def render_summary(s: dict[str, Any]) -> str:
    sc, th, rq = s["scenario"], s["throughput"], s["requests"]
    lines = [
        f"{sc['model']} on {sc['system']} (TP {sc['tensor_parallel']}, {sc['batching']}, {sc['routing']})",
        *([render_policy(s["policy"])] if "policy" in s else []),
        f"requests   {rq['completed']} completed, {rq['rejected']} rejected, {rq['preempted']} preemptions",
        *(f"rejected   {n} x {why}" for why, n in rq.get("rejected_because", {}).items()),
        f"throughput {sig(th['output_tokens_per_s'])} output tok/s, {sig(th['total_tokens_per_s'])} total tok/s, "
        f"{sig(th['requests_per_s'], decimals=3)} req/s",
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
    if "pim_channels" in r:
        lines.extend(_pim_lines(r["pim_channels"]))
    return "\n".join(lines)


def _pim_lines(c: dict[str, float]) -> list[str]:
    """Per memory channel of one device (core/channel_time.py)."""
    ms = {key: value * 1e3 for key, value in c.items()}

    def share(part: float, whole: float) -> str:
        return f"{part / whole:.0%}" if whole else "-"

    return [
        f"PIM attention {ms['pim_s']:.3f} ms; PIM commands per channel: busiest "
        f"{ms['busiest_channel_s']:.3f} ms, mean {ms['mean_channel_s']:.3f} ms",
        f"NPU memory traffic per channel {ms['npu_memory_s']:.3f} ms; overlapped with PIM "
        f"{ms['overlap_s']:.3f} ms ({share(ms['overlap_s'], ms['npu_memory_s'])} of the NPU's, "
        f"{share(ms['overlap_s'], ms['mean_channel_s'])} of the mean channel's PIM)",
    ]
