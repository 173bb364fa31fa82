"""`llmemu reproduce duplex`: Duplex (MICRO 2024) Fig. 11's sweep against an H100 system.

Models and device counts are Duplex Table I's (Mixtral on 1 node x 4, GLaM on 1 node x 8,
Grok-1 on 2 nodes x 8); (L_in, L_out) span (256, 256)..(4096, 4096) for Mixtral and Grok-1
and (512, 512)..(2048, 2048) for GLaM (§VI; we take every pair of the short, middle and long
length); batch 32, 64 and 128; closed loop with continuous batching (papers.md 1.3).
Variants: GPU (every op on the H100s), Duplex (Op/B routing, plain expert parallelism),
Duplex+PE (co-processing) and Duplex+PE+ET (co-processing, experts sliced within a node).
"""

from __future__ import annotations

import statistics
from itertools import product

from llmemu.reproduce import Claim, Options, band
from llmemu.reproduce.runner import Point, throughputs

MODELS = (
    ("mixtral-8x7b", 4, (256, 1024, 4096)),
    ("glam-143b", 8, (512, 1024, 2048)),
    ("grok-1", 16, (256, 1024, 4096)),
)
BATCHES = (32, 64, 128)
VARIANTS = {
    "gpu": ("h100x{n}", "xpu-only"),
    "duplex": ("duplex-{n}", "opb"),
    "duplex+pe": ("duplex-{n}", "opb-coprocess"),
    "duplex+pe+et": ("duplex-{n}", "opb-coprocess+et"),
}


def configs(quick: bool) -> list[tuple[str, int, int, int, int]]:
    """(model, devices, L_in, L_out, batch) of the sweep; `quick`: Mixtral's corners at 64."""
    if quick:
        return [("mixtral-8x7b", 4, n, n, 64) for n in (256, 4096)]
    return [
        (model, devices, lin, lout, batch)
        for model, devices, lengths in MODELS
        for lin, lout, batch in product(lengths, lengths, BATCHES)
    ]


def sweep(options: Options) -> list[dict]:
    """One row per configuration: its settings and the throughput of every variant."""
    rows = configs(options.quick)
    points = [
        Point(
            model,
            system.format(n=n),
            routing,
            batch=b,
            input_tokens=lin,
            output_tokens=lout,
            ideal=options.ideal,
        )
        for model, n, lin, lout, b in rows
        for system, routing in VARIANTS.values()
    ]
    speeds = iter(throughputs(points, options.jobs))
    return [
        {"model": m, "devices": n, "lin": i, "lout": o, "batch": b}
        | {variant: next(speeds) for variant in VARIANTS}
        for m, n, i, o, b in rows
    ]


def _where(row: dict) -> str:
    return f"{row['model']} ({row['lin']},{row['lout']}) batch {row['batch']}"


def _ratio_claims(rows: list[dict]) -> list[Claim]:
    et = [r["duplex+pe+et"] / r["gpu"] for r in rows]
    base = [r["duplex"] / r["gpu"] for r in rows]
    pe = [r["duplex+pe"] / r["duplex"] for r in rows]
    et_vs_base = [r["duplex+pe+et"] / r["duplex"] for r in rows]
    top = rows[et.index(max(et))]
    top_base = rows[base.index(max(base))]
    top_et = rows[et_vs_base.index(max(et_vs_base))]
    return [
        Claim(
            "Duplex+PE+ET vs GPU, max throughput",
            2.67,
            max(et),
            low=2.2,
            high=3.2,
            note=f"at {_where(top)}",
        ),
        Claim(
            "Duplex+PE+ET vs GPU, mean throughput",
            2.07,
            statistics.fmean(et),
            low=1.7,
            high=2.5,
            note=f"geomean {statistics.geometric_mean(et):.2f}",
        ),
        Claim(
            "Duplex (no co-processing) vs GPU, max",
            2.51,
            max(base),
            **band(2.51, 0.20),
            note=f"at {_where(top_base)}; paper: Mixtral (4096,4096)",
        ),
        Claim(
            "Duplex+PE vs Duplex, mean (co-processing alone)",
            1.04,
            statistics.fmean(pe),
            **band(1.04, 0.05),
            note=f"max {max(pe):.2f}",
        ),
        Claim(
            "Duplex+PE+ET vs Duplex, max",
            1.36,
            max(et_vs_base),
            **band(1.36, 0.20),
            note=f"at {_where(top_et)}",
        ),
    ]


def _context(rows: list[dict]) -> list[Claim]:
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        for variant in ("duplex", "duplex+pe+et"):
            ratios = [r[variant] / r["gpu"] for r in mine]
            out.append(
                Claim(
                    f"{model}: {variant} vs GPU, mean",
                    None,
                    statistics.fmean(ratios),
                    note=f"min {min(ratios):.2f}, max {max(ratios):.2f}",
                )
            )
    return out


def claims(options: Options) -> list[Claim]:
    rows = sweep(options)
    return _ratio_claims(rows) + _context(rows)
