"""`llmemu reproduce neupims`: NeuPIMs (ASPLOS 2024) throughput against its three baselines.

GPT-3 7B, 13B, 30B and 175B with the repo's parallelism (TP 4, 4, 4, 8; PP 1, 1, 2, 4), the
ShareGPT and Alpaca datasets (average lengths 80/296 and 12/56, NeuPIMs §8.1) and batches of
64..512 (papers.md 3.2-3.3), measured as the paper measures: one decode iteration of a
steady-state batch (`neupims_batches`), ten batches per setting with each request's context
sampled from the authors' snapshots (`neupims_contexts`), throughput their mean. Every device
count is the same across variants:
- GPU-only: A100 40GB (the paper ran real A100s), every op on the GPU;
- NPU-only: the NeuPIMs NPU and its HBM, no PIM;
- NPU+PIM: attention GEMVs on PIM with one row buffer, so PIM and NPU take turns, requests
  placed on the 32 channels round-robin;
- NeuPIMs: dual row buffers, greedy channel balancing (Algorithm 2), and sub-batch
  interleaving from batch 256 up (repo README), each channel's requests halved (Algorithm 3).
The paper states each speedup as one number over all of these settings: we take the mean.
"""

from __future__ import annotations

import math
import statistics
from itertools import product

from llmemu.reproduce import Claim, Options, band
from llmemu.reproduce.neupims_batches import STEADY_CONTEXT, Batch, throughputs
from llmemu.reproduce.neupims_contexts import SAMPLES, sampled_batch

MODELS = (("gpt3-7b", 4, 1), ("gpt3-13b", 4, 1), ("gpt3-30b", 4, 2), ("gpt3-175b", 8, 4))
DATASETS = ("sharegpt", "alpaca")
BATCHES = (64, 128, 256, 384, 512)
INTERLEAVE_FROM_BATCH = 256
"""casys-kaist/NeuPIMs README: sub-batch interleaving is enabled only when batch >= 256."""
VARIANTS = ("gpu", "npu-only", "npu+pim", "neupims")


def _point(
    variant: str, model: str, tp: int, pp: int, dataset: str, batch: int, ideal: bool, sample: int
):
    common = {
        "batch": batch,
        "context": STEADY_CONTEXT[dataset],
        "contexts": sampled_batch(dataset, batch, sample),
        "pipeline_stages": pp,
        "ideal": ideal,
    }
    if variant == "gpu":
        return Batch(model, f"a100-40gx{tp}", "xpu-only", **common)
    if variant == "npu-only":
        return Batch(model, f"npu-only-{tp}", "xpu-only", **common)
    if variant == "npu+pim":
        return Batch(model, f"npu+pim-{tp}", "pim-attention", **common)
    sub_batches = 2 if batch >= INTERLEAVE_FROM_BATCH else 1
    return Batch(
        model, f"neupims-{tp}", "pim-attention", "sub-batch-interleave", sub_batches, **common
    )


def configs(quick: bool) -> list[tuple]:
    """(model, tp, pp, dataset, batch); `quick`: GPT-3 7B on ShareGPT at 64 and 256."""
    if quick:
        return [("gpt3-7b", 4, 1, "sharegpt", b) for b in (64, 256)]
    return [(m, tp, pp, d, b) for (m, tp, pp), d, b in product(MODELS, DATASETS, BATCHES)]


def sweep(options: Options) -> list[dict]:
    rows = configs(options.quick)
    points = [
        _point(v, *row, options.ideal, k) for row in rows for v in VARIANTS for k in range(SAMPLES)
    ]
    speeds = iter(throughputs(points, options.jobs))
    return [
        {"model": m, "dataset": d, "batch": b}
        | {v: statistics.fmean(next(speeds) for _ in range(SAMPLES)) for v in VARIANTS}
        for m, tp, pp, d, b in rows
    ]


def _mean_ratio(rows: list[dict], variant: str, over: str = "neupims") -> tuple[float, int]:
    ratios = [r[over] / r[variant] for r in rows]
    kept = [x for x in ratios if not math.isnan(x)]
    return (statistics.fmean(kept) if kept else math.nan), len(ratios) - len(kept)


def _best_ratio(rows: list[dict], variant: str) -> tuple[float, str]:
    ratios = [(r["neupims"] / r[variant], r) for r in rows]
    kept = [(x, r) for x, r in ratios if not math.isnan(x)]
    if not kept:
        return math.nan, "no setting fits"
    best, r = max(kept, key=lambda pair: pair[0])
    return best, f"{r['model']} {r['dataset']} batch {r['batch']}"


def claims(options: Options) -> list[Claim]:
    rows = sweep(options)
    out = []
    for variant, paper, label in (
        ("gpu", 3.0, "NeuPIMs vs GPU-only (A100 40GB), mean throughput"),
        ("npu-only", 2.4, "NeuPIMs vs NPU-only, mean throughput"),
        ("npu+pim", 1.6, "NeuPIMs vs NPU+PIM, mean throughput"),
    ):
        mean, skipped = _mean_ratio(rows, variant)
        note = f"{len(rows) - skipped} settings" + (f", {skipped} do not fit" if skipped else "")
        out.append(Claim(label, paper, mean, **band(paper, 0.25), note=note))
    for variant in ("gpu", "npu-only", "npu+pim"):
        best, where = _best_ratio(rows, variant)
        out.append(
            Claim(
                f"NeuPIMs vs {variant}, best setting", None, best,
                note=f"{where}; context: the abstract does not say mean or maximum",
            )
        )  # fmt: skip
    pim_gain, _ = _mean_ratio(rows, "npu-only", over="npu+pim")
    out.append(
        Claim(
            "NPU+PIM vs NPU-only, mean (PIM attention alone)",
            None,
            pim_gain,
            note="the paper's two ratios imply 2.4 / 1.6 = 1.5",
        )
    )
    npu_vs_gpu, _ = _mean_ratio(rows, "gpu", over="npu-only")
    out.append(
        Claim(
            "NPU-only vs GPU-only, mean",
            None,
            npu_vs_gpu,
            note="the paper's ratios imply 3 / 2.4 = 1.25",
        )
    )
    for label, subset in _slices(rows):
        if not subset:
            continue
        for variant in ("gpu", "npu-only", "npu+pim"):
            mean, _ = _mean_ratio(subset, variant)
            out.append(Claim(f"{label}: NeuPIMs vs {variant}, mean", None, mean))
    return out


def _slices(rows: list[dict]):
    for model, tp, pp in MODELS:
        yield f"{model} (TP {tp}, PP {pp})", [r for r in rows if r["model"] == model]
    for dataset in DATASETS:
        context = STEADY_CONTEXT[dataset]
        yield f"{dataset} (context {context:g})", [r for r in rows if r["dataset"] == dataset]
    below = [r for r in rows if r["batch"] < INTERLEAVE_FROM_BATCH]
    above = [r for r in rows if r["batch"] >= INTERLEAVE_FROM_BATCH]
    yield f"batch < {INTERLEAVE_FROM_BATCH} (no interleaving)", below
    yield f"batch >= {INTERLEAVE_FROM_BATCH} (interleaved)", above
