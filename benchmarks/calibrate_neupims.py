"""Calibrate the NeuPIMs presets to the authors' own timing models, and print the evidence.

    .venv/bin/python benchmarks/calibrate_neupims.py

- `neupims-npu` GEMMs: `compute`, `compute_half_tokens` and `memory` fitted to ONNXim's GEMM
  cycles (`onnxim_npu.gemm_cycles`) over every GEMM of the NeuPIMs grid (GPT-3 7B/13B/30B at
  TP 4, 175B at TP 8; QKV, output projection, FC1, FC2; 16..512 tokens per device), minimising
  the mean |predicted / ONNXim - 1| with one parameter set for all models.
- `neupims-npu` decode attention: closed form from the instruction timing (printed here).
- `neupims-pim`: closed form from NeuPIMs Algorithm 1 (printed here).
docs/heterogeneous.md records the output.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import onnxim_npu  # noqa: E402

from llmemu.core.catalog import load_device, load_system  # noqa: E402
from llmemu.core.cost import Pricer  # noqa: E402
from llmemu.core.planner import gemm  # noqa: E402
from llmemu.core.specs.device import Efficiency  # noqa: E402
from llmemu.core.specs.loading import load_model  # noqa: E402

MODELS = (("gpt3-7b", 4), ("gpt3-13b", 4), ("gpt3-30b", 4), ("gpt3-175b", 8))
TOKENS = (16, 32, 64, 96, 128, 192, 256, 384, 512)
CLOCK_HZ = 1e9


def rows() -> list[tuple[str, int, object, float]]:
    """(model, tp, whole-replica GEMM op, ONNXim seconds on one device)."""
    out = []
    for (name, tp), m in itertools.product(MODELS, TOKENS):
        model = load_model(name)
        h, f = model.hidden_size, model.ffn_size
        for op, k, n in (
            ("qkv", h, model.qkv_out),
            ("o_proj", model.q_size, h),
            ("gate_up", h, f),
            ("down", f, h),
        ):
            whole = gemm(op, m, k, n, model.dtype_bytes)
            # TP splits N of QKV and FC1 and K of the output projection and FC2 (Megatron)
            shard = (k, n // tp) if op in ("qkv", "gate_up") else (k // tp, n)
            seconds = onnxim_npu.gemm_cycles(m, *shard) / CLOCK_HZ
            out.append((name, tp, whole, seconds))
    return out


def predicted(data, compute: float, half: float, memory: float) -> np.ndarray:
    """`Pricer.time` of each GEMM on one device, vectorised (no overhead on the NPU)."""
    npu = load_device("neupims-npu")
    peak, bw = npu.flops_for(2), npu.memory_bytes_per_s
    flops = np.array([op.flops / tp for _, tp, op, _ in data])
    moved = np.array([op.bytes / tp for _, tp, op, _ in data])
    m = np.array([op.tokens for _, _, op, _ in data], float)
    return np.maximum(flops * (m + half) / (m * peak * compute), moved / (bw * memory))


def fit(data) -> tuple[float, float, float]:
    target = np.array([s for *_, s in data])
    best, best_err = (0.0, 0.0, 0.0), float("inf")
    for c, h, mem in itertools.product(
        np.arange(0.10, 1.0001, 0.005), np.arange(0, 129, 4), np.arange(0.30, 1.0001, 0.01)
    ):
        err = float(np.mean(np.abs(predicted(data, c, h, mem) / target - 1)))
        if err < best_err:
            best, best_err = (round(float(c), 3), float(h), round(float(mem), 2)), err
    return best


def report(data, params) -> None:
    """Errors through the real Pricer: per GEMM by model and token band, and of each model's
    layer (its four GEMMs together) at every token count."""
    npu = load_device("neupims-npu")
    eff = npu.efficiency.model_dump() | dict(
        compute=params[0], compute_half_tokens=params[1], memory=params[2]
    )
    device = npu.model_copy(update={"efficiency": Efficiency(**eff)})
    errors: dict[str, list[float]] = {}
    layers: dict[tuple[str, int], list[float]] = {}
    for name, tp, op, seconds in data:
        base = load_system(f"npu-only-{tp}")
        proc = base.processors[0].model_copy(update={"device": device})
        system = base.model_copy(update={"processors": (proc,)})
        ours = Pricer(system, 2).time(op, "npu")
        err = ours / seconds - 1
        layer = layers.setdefault((name, op.tokens), [0.0, 0.0])
        layer[0], layer[1] = layer[0] + ours, layer[1] + seconds
        band = "<=128 tokens" if op.tokens <= 128 else ">128 tokens"
        for key in (name, band, "all"):
            errors.setdefault(key, []).append(err)
    for key, errs in errors.items():
        e = np.array(errs)
        print(f"  {key:14s} MAPE {np.mean(np.abs(e)):6.1%}   worst {e[np.argmax(np.abs(e))]:+.1%}")
    for name, _ in MODELS:
        e = [ours / ref - 1 for (n, _), (ours, ref) in layers.items() if n == name]
        print(f"  {name:14s} layer (4 GEMMs) error by tokens {TOKENS}: ", end="")
        print(" ".join(f"{x:+.0%}" for x in e))


def main() -> None:
    data = rows()
    params = fit(data)
    print("neupims-npu GEMM fit to ONNXim (compute, compute_half_tokens, memory):", params)
    report(data, params)
    slope = (onnxim_npu.ROWS_PER_INSTRUCTION + onnxim_npu.CORE + 5) / onnxim_npu.CORE
    intercept = onnxim_npu.CORE - onnxim_npu.ROWS_PER_INSTRUCTION + 2 + slope * 64
    per_token_flops = 4 * 128
    print(f"neupims-npu decode attention per head: {intercept:.1f} + {slope:.4f} x context cycles")
    print(
        f"  attention_compute = {per_token_flops / (slope * onnxim_npu.PEAK_FLOPS_PER_CYCLE):.6f}"
    )
    print(f"  attention_request_tokens = {intercept / slope:.1f}")
    k_slope, v_slope = 184 / 32 / 4, (100 + 4 * 184) / 512
    intercept = 100 / 4 + 184 / 2 / 4 + (100 + 4 * 184)
    print(
        f"neupims-pim (Algorithm 1) per head: {intercept:.0f} + {k_slope + v_slope:.4f} x context"
    )
    print(f"  efficiency = {2 * 128 * 2 / (k_slope + v_slope) * 32 / 32.768e3:.4f} of 32.77 TB/s")
    print(f"  attention_request_tokens = {intercept / (k_slope + v_slope):.1f}")


if __name__ == "__main__":
    main()
