"""`llmemu reproduce tpi-llm`: TPI-LLM (arXiv 2410.00531) on its emulated Klonet testbed.

Settings (papers.md §4): FP32 Llama 2-7B and 70B on 8 edge-klonet devices (300 Mbps, 1 ms
per link, gateway-core topology), star all-reduce, one user at a time. The paper does not
state its prompt (TPI-LLM's run script reads it from the terminal), so every run here is a
1-token prompt and 19 generated tokens, each a fresh process whose first token starts with
no weights in memory. Latency is the mean time per output token after the first (TPOT). Peak memory is the largest node's (the master's, which holds the
embedding and the head). Device rates come from the hardware and the paper's §3.3 case
study, never from Table 1 (docs/edge.md).
"""

from __future__ import annotations

from llmemu.core.catalog import load_system
from llmemu.core.collectives import ALLREDUCE, LinkModel
from llmemu.reproduce import Claim, Options, band
from llmemu.reproduce.tpi_llm_network import network_claims
from llmemu.reproduce.tpi_llm_runs import KLONET, PROMPT_TOKENS, simulate


def measures(summary: dict) -> dict[str, float]:
    """Table 1's three columns from a simulation summary."""
    return {
        "mem": summary["edge"]["peak_memory_bytes"] / 1e9,
        "ttft": summary["ttft_s"]["mean"],
        "lat": summary["tpot_s"]["mean"],
    }


COLUMNS = (
    ("mem", "peak memory", "GB", "largest node: the master"),
    ("ttft", "TTFT", "s", f"{PROMPT_TOKENS}-token prompt, no weights resident at start"),
    ("lat", "latency", "s/token", "mean time per output token after the first"),
)


def table_1_claims(model: str, label: str, paper: dict, tolerance: float) -> list[Claim]:
    """Table 1: scheduler on (w = 2, within `tolerance`) and off (w = 0, context rows)."""
    on, off = simulate(model, 2), simulate(model, 0)
    rows = [
        Claim(
            f"{label} w=2 {name}",
            paper[f"{key}_on"],
            measures(on)[key],
            unit,
            note,
            **band(paper[f"{key}_on"], tolerance),
        )
        for key, name, unit, note in COLUMNS
    ]
    if off["edge"]["oom"]:
        nodes = off["edge"]["nodes"]
        workers = max(n["peak_memory_bytes"] for name, n in nodes.items() if name != "h1")
        rows.append(
            Claim(
                f"{label} scheduler off: peak memory",
                paper["mem_off"],
                off["edge"]["peak_memory_bytes"] / 1e9,
                "GB",
                f"master; workers {workers / 1e9:.1f} GB",
            )
        )
    else:
        rows += [
            Claim(
                f"{label} scheduler off: {name}",
                paper[f"{key}_off"],
                measures(off)[key],
                unit,
                "the whole shard streams from disk at the first token" if key == "ttft" else note,
            )
            for key, name, unit, note in COLUMNS
        ]
    oom = 1.0 if off["edge"]["oom"] else 0.0
    expected = 1.0 if paper["lat_off"] is None else 0.0
    rows.append(
        Claim(f"{label} scheduler off: OOM", expected, oom, "oom", "1 = OOM", expected, expected)
    )
    return rows


TABLE_1 = {
    "llama-2-70b": (
        "Llama 2-70B",
        0.15,
        {
            "mem_on": 3.1,
            "ttft_on": 29.4,
            "lat_on": 26.1,
            "mem_off": 34.9,
            "ttft_off": None,
            "lat_off": None,
        },
    ),
    "llama-2-7b": (
        "Llama 2-7B",
        0.20,
        {
            "mem_on": 1.7,
            "ttft_on": 3.0,
            "lat_on": 2.6,
            "mem_off": 4.5,
            "ttft_off": 3.1,
            "lat_off": 1.2,
        },
    ),
}


def hop_claims() -> list[Claim]:
    """§3.2: link latencies alone (no data, free aggregation), in units of tau."""
    system = load_system(KLONET)
    topology = system.topology.model_copy(update={"aggregation_bytes_per_s": None})
    link = LinkModel(8, 37.5e6, 1e-3, topology=topology)
    paper = {"star": 8, "tree": 16, "ring": 56}
    return [
        Claim(
            f"{name} all-reduce latency, 8 devices",
            taus,
            ALLREDUCE[name](0.0, link) / 1e-3,
            "tau",
            "",
            taus,
            taus,
        )
        for name, taus in paper.items()
    ]


def claims(options: Options) -> list[Claim]:
    rows = hop_claims()
    for model, (label, tolerance, paper) in TABLE_1.items():
        if options.quick and model != "llama-2-7b":
            continue
        rows += table_1_claims(model, label, paper, tolerance)
    return rows + network_claims(options.quick)
