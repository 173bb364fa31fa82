"""FP8 GEMM times for the same model shapes as the FP16 rows (`measure_kernels.py --fp8`).

Each product is ``torch._scaled_mm(x8, w8.t(), scale_x, scale_w, out_dtype=bfloat16)``:
float8_e4m3fn activations ``[m, k]`` (row-major) by float8_e4m3fn weights stored ``[n, k]``
and passed transposed, since cuBLASLt's FP8 kernels want the second operand column-major;
per-tensor float32 scales and a bf16 output, as an FP8-quantised serving engine runs its
linear layers. Quantising the activations (a separate bf16 -> fp8 kernel in a real engine)
is not timed. Timing, weight rotation and the CSV columns are the FP16 path's; ``bytes``
counts fp8 inputs (1 byte) and the bf16 output (2 bytes).

Rows: ``peak_gemm_fp8`` (8192^3, plain accumulation), ``peak_gemm_fp8_fast_accum``
(the same with ``use_fast_accum=True``), ``peak_gemm_bf16`` from the same run as the
FP8/FP16 reference, then ``qkv`` / ``o_proj`` / ``gate_up`` / ``down`` for every model,
TP degree and m of the FP16 sweep. Written to ``<gpu>_fp8__llmemu.csv``.
"""

from __future__ import annotations

import csv
import math
import os
import time

import torch
from measure_kernels import COLUMNS, M_VALUES, MAX_BUFFERS, MODELS, ROTATE_BYTES, Bench, gemm_shape

FP8 = torch.float8_e4m3fn
OUT_DTYPE = torch.bfloat16


def fp8_weights(device: torch.device, k: int, n: int, count: int) -> list[torch.Tensor]:
    """``count`` random ``[n, k]`` weights; unit variance sits well inside e4m3's range and
    the per-tensor scale restores the magnitude."""
    return [torch.randn(n, k, device=device).to(FP8) for _ in range(count)]


class Fp8Gemm:
    """One FP8 product ``x[m,k] @ w[n,k].T`` with per-tensor scales, written into ``out``."""

    def __init__(self, device: torch.device, m: int, ws: list[torch.Tensor], fast: bool):
        n, k = ws[0].shape
        self.x = torch.randn(m, k, device=device).to(FP8)
        self.ws = ws
        self.sx = torch.ones((), device=device, dtype=torch.float32)
        self.sw = torch.full((), k**-0.5, device=device, dtype=torch.float32)
        self.out = torch.empty(m, n, device=device, dtype=OUT_DTYPE)
        self.fast = fast

    def __call__(self, i: int):
        w = self.ws[i % len(self.ws)]
        return torch._scaled_mm(
            self.x,
            w.t(),
            self.sx,
            self.sw,
            out_dtype=OUT_DTYPE,
            use_fast_accum=self.fast,
            out=self.out,
        )


def gemm_bytes(m: int, k: int, n: int) -> float:
    return float(m * k + k * n + 2 * m * n)


def run(args, device: torch.device, device_name: str, path: str, scale: int, peak_n: int) -> int:
    """Time the FP8 rows into ``path``; returns the number of rows written."""
    bench = Bench(device, not args.no_graphs, args.min_reps, time.time() + args.max_seconds)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        fh.flush()

        def emit(op: str, ms: float, m: int, k: int, n: int, **kw) -> dict:
            flops, nbytes = 2.0 * m * k * n, gemm_bytes(m, k, n)
            row = {c: "" for c in COLUMNS}
            row.update(kw)
            row.update(
                op=op,
                m=m,
                k=k,
                n=n,
                median_ms=f"{ms:.6g}",
                flops=f"{flops:.0f}",
                bytes=f"{nbytes:.0f}",
                achieved_tflops=f"{flops / (ms * 1e-3) / 1e12:.4g}",
                achieved_gbps=f"{nbytes / (ms * 1e-3) / 1e9:.4g}",
                device_name=device_name,
                torch_version=torch.__version__,
            )
            writer.writerow(row)
            fh.flush()
            return row

        nrows = _peaks(bench, emit, device, peak_n)
        m_values = [1, 4, 64] if scale > 1 else M_VALUES
        nrows += _sweep(bench, emit, device, scale, m_values)
    print(f"wrote {nrows} FP8 rows to {path}", flush=True)
    return nrows


def _peaks(bench: Bench, emit, device, n: int) -> int:
    rows = 0
    for label, fast in (("peak_gemm_fp8", False), ("peak_gemm_fp8_fast_accum", True)):
        try:
            g = Fp8Gemm(device, n, fp8_weights(device, n, n, 1), fast)
            r = emit(label, bench.time(g, budget_ms=60), n, n, n)
            print(f"{label:26s} {n}^3: {r['achieved_tflops']} TFLOP/s", flush=True)
            rows += 1
            del g
        except Exception as exc:  # noqa: BLE001 - keep measuring the other rows
            print(f"  FAILED {label}: {type(exc).__name__}: {exc}", flush=True)
    a = torch.randn(n, n, device=device, dtype=OUT_DTYPE)
    b = torch.randn(n, n, device=device, dtype=OUT_DTYPE) * n**-0.5
    c = torch.empty(n, n, device=device, dtype=OUT_DTYPE)
    ms = bench.time(lambda i: torch.matmul(a, b, out=c), budget_ms=60)
    r = emit("peak_gemm_bf16", ms, n, n, n)
    print(f"{'peak_gemm_bf16 (same run)':26s} {n}^3: {r['achieved_tflops']} TFLOP/s", flush=True)
    return rows + 1


def _sweep(bench: Bench, emit, device, scale: int, m_values) -> int:
    times: dict[tuple[int, int, int], float] = {}
    rows, t0 = 0, time.time()
    for model in MODELS:
        for tp in model.tps:
            for op in model.ops:
                k, n = (d // scale for d in gemm_shape(model, op, tp))
                nbuf = int(min(MAX_BUFFERS, max(1, math.ceil(ROTATE_BYTES / (k * n)))))
                ws = fp8_weights(device, k, n, nbuf)
                for m in m_values:
                    key = (m, k, n)
                    try:
                        if key not in times:
                            g = Fp8Gemm(device, m, ws, False)
                            times[key] = bench.time(g, nbuf=nbuf, budget_ms=30)
                            del g
                    except Exception as exc:  # noqa: BLE001 - keep measuring other shapes
                        print(f"  FAILED {model.name} tp{tp} {op} m{m}: {exc}", flush=True)
                        continue
                    emit(op, times[key], m, k, n, model=model.name, tp=tp)
                    rows += 1
                del ws
            if bench.cuda:
                torch.cuda.empty_cache()
    print(f"FP8 GEMMs: {len(times)} distinct shapes in {time.time() - t0:.1f} s", flush=True)
    return rows
