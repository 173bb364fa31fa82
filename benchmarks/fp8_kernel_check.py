"""The h200 preset's FP8 GEMM prices against FP8 kernels measured on an H200.

The preset's `compute_fp8` was fitted on TensorRT-LLM's serving table (benchmarks/
calibrate_serving.py), not on kernels; data/kernels/measured/h200_fp8__llmemu.csv holds
`torch._scaled_mm` times of the same shapes as the FP16 file (measure_kernels.py --fp8).
Each row is priced as the simulator prices it: `planner.gemm` with FP16 activations and
1-byte weights, through the real `Pricer` on an h200 system at the row's TP degree.

Printed: the peaks, the signed error (predicted / measured - 1) by regime, the FP8/FP16
speedup per shape measured and predicted, and the large-GEMM efficiency the kernels imply.

    PYTHONPATH=services .venv/bin/python benchmarks/fp8_kernel_check.py
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import kernel_data
import numpy as np

from llmemu.core.catalog import load_device

GPU = "h200"
REGIMES = (("m <= 64 (memory-bound)", 1, 64), ("128 <= m <= 512", 128, 512))
REGIMES += (("m >= 1024 (compute-bound)", 1024, 1 << 30),)


def peak_tflops(path: Path) -> dict[str, float]:
    """Achieved TFLOP/s of the `peak_gemm_*` rows (8192^3) of one measured CSV."""
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["op"].startswith("peak_gemm")]
    return {r["op"]: float(r["achieved_tflops"]) for r in rows}


def by_regime(rows, values: np.ndarray):
    m = np.array([r.m for r in rows])
    for label, lo, hi in REGIMES:
        mask = (m >= lo) & (m <= hi)
        yield label, values[mask], [r for r, keep in zip(rows, mask, strict=True) if keep]


def summary(values: np.ndarray, rows) -> str:
    i = int(np.argmax(np.abs(values)))
    r = rows[i]
    return (
        f"median {np.median(values) * 100:+6.1f}%  median |err| "
        f"{np.median(np.abs(values)) * 100:5.1f}%  worst {values[i] * 100:+6.1f}% "
        f"({r.model} {r.op} tp{r.tp} m={r.m})"
    )


def main() -> None:
    device = load_device(GPU)
    fp8 = kernel_data.load_rows("measured_fp8")[GPU]
    fp16 = {(r.model, r.op, r.tp, r.m): r for r in kernel_data.load_rows("measured")[GPU]}
    fp8 = [r for r in fp8 if (r.model, r.op, r.tp, r.m) in fp16]
    half = [fp16[(r.model, r.op, r.tp, r.m)] for r in fp8]

    peaks = peak_tflops(kernel_data.MEASURED_DIR / f"{GPU}{kernel_data.FP8_TAG}__llmemu.csv")
    peaks16 = peak_tflops(kernel_data.MEASURED_DIR / f"{GPU}__llmemu.csv")
    sheet8, sheet16 = device.peak_flops["fp8"] / 1e12, device.peak_flops["fp16"] / 1e12
    print(f"8192^3 peaks on {GPU} (datasheet fp8 {sheet8:.0f}, fp16 {sheet16:.0f} TFLOP/s):")
    for op, tf in {**peaks, "peak_gemm_fp16 (FP16 file)": peaks16["peak_gemm_fp16"]}.items():
        sheet = sheet8 if "fp8" in op else sheet16
        print(f"  {op:28s} {tf:7.1f} TFLOP/s = {tf / sheet:.3f} of its datasheet peak")
    print(f"  fp8 / bf16 of the same run: {peaks['peak_gemm_fp8'] / peaks['peak_gemm_bf16']:.2f}")

    measured8 = np.array([r.seconds for r in fp8])
    predicted8 = kernel_data.price(fp8, device)
    print(f"\nPreset price / measured FP8 kernel - 1 ({len(fp8)} GEMMs, 4 models, TP 1-8):")
    for label, err, rows in by_regime(fp8, predicted8 / measured8 - 1):
        print(f"  {label:28s} n={len(err):3d}  {summary(err, rows)}")

    measured_speedup = np.array([h.seconds for h in half]) / measured8
    predicted_speedup = kernel_data.price(half, device) / predicted8
    print("\nFP8 / FP16 speedup per shape (FP16 time / FP8 time):")
    for label, speed, _ in by_regime(fp8, measured_speedup):
        print(f"  {label:28s} measured median {np.median(speed):.2f} (range {speed.min():.2f}-{speed.max():.2f})")  # fmt: skip
    print("  predicted speedup / measured speedup - 1:")
    for label, ratio, rows in by_regime(fp8, predicted_speedup / measured_speedup - 1):
        print(f"  {label:28s} {summary(ratio, rows)}")

    big = [r for r in fp8 if r.m >= 1024]
    big16 = [fp16[(r.model, r.op, r.tp, r.m)] for r in big]
    eff8 = statistics.median(r.as_op().flops / r.tp / r.seconds for r in big) / 1e12 / sheet8
    eff16 = statistics.median(r.as_op().flops / r.tp / r.seconds for r in big16) / 1e12 / sheet16
    e = device.efficiency
    print("\nLarge-GEMM efficiency (m >= 1024, median achieved / datasheet peak):")
    print(f"  FP8 kernels {eff8:.3f}   preset compute_fp8 {e.compute_fp8:.3f} (serving fit)")
    print(f"  FP16 kernels {eff16:.3f}  preset compute {e.compute:.3f} (kernel fit)")


if __name__ == "__main__":
    main()
