"""Measured GEMM kernel times as emulator ops, priced through the emulator's own `Pricer`.

Two sources, both one GPU's share of one layer's projection under tensor parallelism:
- `data/kernels/vidur/<gpu>__<model>.csv` (Vidur profiling data): per-layer shape
  columns, one row per (token count, TP degree), the median ms of each projection.
- `data/kernels/measured/<gpu>__*.csv` (this project's own runs of
  `benchmarks/gpu/measure_kernels.py`): one row per GEMM with the per-GPU `m, k, n`;
  `<gpu>_fp8__*.csv` hold its FP8 GEMMs (`--fp8`), kept apart from the FP16 rows.
  `<gpu>_longctx__*.csv` (`--long-context`) hold attention only and are not read here.

Each row becomes the *whole-replica* op that the planner builds (`planner.gemm`), priced on
a system with `tensor_parallel` = the row's TP, so what is compared is exactly what the
simulator charges for that kernel.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmemu.core.cost import Pricer
from llmemu.core.ops import Op
from llmemu.core.planner import gemm
from llmemu.core.specs.device import DeviceSpec
from llmemu.core.specs.system import Link, Processor, SystemSpec

REPO = Path(__file__).resolve().parents[1]
VIDUR_DIR = REPO / "data" / "kernels" / "vidur"
MEASURED_DIR = REPO / "data" / "kernels" / "measured"
OP_KINDS = ("qkv", "o_proj", "gate_up", "down")
DTYPE_BYTES = 2  # both sources time FP16 GEMMs (FP8 rows: FP16 activations, FP8 weights)
FP8_TAG = "_fp8"  # <gpu>_fp8__*.csv: FP8 GEMMs of measure_kernels.py --fp8
LONGCTX_TAG = "_longctx"  # <gpu>_longctx__*.csv: attention only (--long-context), no GEMMs
# Vidur column -> emulator op name
VIDUR_COLUMNS = {
    "attn_pre_proj": "qkv",
    "attn_post_proj": "o_proj",
    "mlp_up_proj": "gate_up",
    "mlp_down_proj": "down",
}


@dataclass(frozen=True, slots=True)
class KernelRow:
    """One measured GEMM: whole-replica shape (m x k by k x n), its TP degree and time."""

    gpu: str
    source: str
    model: str
    op: str
    m: int
    k: int
    n: int
    tp: int
    seconds: float
    weight_dtype_bytes: int = 0
    """1 for an FP8 GEMM (weights and arithmetic in FP8); 0: the activations' width."""

    def as_op(self) -> Op:
        return gemm(self.op, self.m, self.k, self.n, DTYPE_BYTES, self.weight_dtype_bytes)


def _vidur_shapes(r: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Whole-replica (k, n) of each projection; the CSV's TP splits n (qkv, gate_up) or k."""
    hidden, heads, kv_heads = int(r["n_embd"]), int(r["n_head"]), int(r["n_kv_head"])
    head_dim = hidden // heads
    ffn = int(r["n_expanded_embd"])
    up = 2 * ffn if r["use_gated_mlp"] == "True" else ffn
    return {
        "qkv": (hidden, (heads + 2 * kv_heads) * head_dim),
        "o_proj": (heads * head_dim, hidden),
        "gate_up": (hidden, up),
        "down": (ffn, hidden),
    }


def vidur_rows(path: Path) -> list[KernelRow]:
    gpu, model = path.stem.split("__", 1)
    rows = []
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            shapes = _vidur_shapes(r)
            m, tp = int(r["num_tokens"]), int(r["num_tensor_parallel_workers"])
            for column, op in VIDUR_COLUMNS.items():
                k, n = shapes[op]
                ms = float(r[f"{column}_median_ms"])
                rows.append(KernelRow(gpu, "vidur", model, op, m, k, n, tp, ms * 1e-3))
    return rows


def measured_paths(fp8: bool = False) -> list[Path]:
    """The measured CSVs of FP16 GEMMs (`<gpu>__*.csv`) or, with `fp8`, of FP8 ones; the
    attention-only `<gpu>_longctx__*.csv` is neither (benchmarks/longctx_attention_check.py)."""
    paths = sorted(MEASURED_DIR.glob("*__*.csv"))
    tags = [(p, p.stem.split("__", 1)[0]) for p in paths]
    return [p for p, t in tags if not t.endswith(LONGCTX_TAG) and t.endswith(FP8_TAG) == fp8]


def measured_rows(path: Path) -> list[KernelRow]:
    """GEMM rows of a measure_kernels.py CSV; its k, n are per GPU, so TP is undone here."""
    tag = path.stem.split("__", 1)[0]
    gpu = tag.removesuffix(FP8_TAG)
    width = 1 if tag != gpu else 0
    rows = []
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["op"] not in OP_KINDS:
                continue
            tp, k, n = int(r["tp"]), int(r["k"]), int(r["n"])
            k, n = (k, n * tp) if r["op"] in ("qkv", "gate_up") else (k * tp, n)
            seconds = float(r["median_ms"]) * 1e-3
            rows.append(
                KernelRow(
                    gpu, "measured", r["model"], r["op"], int(r["m"]), k, n, tp, seconds, width
                )
            )
    return rows


def load_rows(source: str = "vidur") -> dict[str, list[KernelRow]]:
    """Rows by GPU name (`a100`, `h100`, `h200`...) for one source: `vidur`, `measured`
    (FP16) or `measured_fp8`."""
    sources = {
        "vidur": (lambda: sorted(VIDUR_DIR.glob("*__*.csv")), vidur_rows),
        "measured": (measured_paths, measured_rows),
        "measured_fp8": (lambda: measured_paths(fp8=True), measured_rows),
    }
    if source not in sources:
        raise ValueError(f"kernel source {source!r} is unknown; use one of {sorted(sources)}")
    paths, reader = sources[source]
    by_gpu: dict[str, list[KernelRow]] = {}
    for path in paths():
        for row in reader(path):
            by_gpu.setdefault(row.gpu, []).append(row)
    return by_gpu


def price(rows: list[KernelRow], device: DeviceSpec) -> np.ndarray:
    """Seconds the emulator charges for each row's op on `device` at the row's TP degree."""
    pricers: dict[int, Pricer] = {}
    out = np.empty(len(rows))
    for i, row in enumerate(rows):
        pricer = pricers.get(row.tp)
        if pricer is None:
            pricer = pricers[row.tp] = Pricer(_system(device, row.tp), DTYPE_BYTES)
        out[i] = pricer.time(row.as_op(), device.name)
    return out


def _system(device: DeviceSpec, tp: int) -> SystemSpec:
    link = Link(bytes_per_s=device.link_bytes_per_s or 1.0, latency_s=device.link_latency_s)
    return SystemSpec(
        name=f"{device.name}x{tp}",
        processors=(Processor(name=device.name, device=device),),
        tensor_parallel=tp,
        interconnect=link if tp > 1 else None,
    )


def mape_by_op(rows: list[KernelRow], predicted_s: np.ndarray) -> dict[str, float]:
    """Mean absolute percentage error (as a fraction) per op kind, and over all rows."""
    measured = np.array([r.seconds for r in rows])
    err = np.abs(predicted_s / measured - 1.0)
    ops = np.array([r.op for r in rows])
    result = {op: float(err[ops == op].mean()) for op in OP_KINDS if (ops == op).any()}
    result["all"] = float(err.mean())
    return result
