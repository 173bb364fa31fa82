"""Checks of the calibration on data each fit did not see, and the NanoFlow Table 2 comparison.

- Leave one model out: fit on every other model of a GPU, price the held-out model.
- Across sources: a fit to one source (Vidur, or this project's measurements) priced against
  the other, on the target card's own peaks (h100 and h200 share the GH100 chip).
- Decode attention of the measured CSVs, priced with the GEMM-fitted `memory` and overhead.
- NanoFlow Table 2's Real column against the shipped a100 preset (non-ideal `explain`).
"""

from __future__ import annotations

import csv

import kernel_data
import kernel_fit
import nanoflow_table2
import numpy as np

from llmemu.core.catalog import load_device
from llmemu.core.cost import Pricer
from llmemu.core.ops import Op, OpKind
from llmemu.core.specs.device import DeviceSpec


def fmt_mape(m: dict[str, float]) -> str:
    cells = " ".join(f"{m.get(op, float('nan')) * 100:7.1f}" for op in kernel_data.OP_KINDS)
    return f"{cells} {m['all'] * 100:7.1f}"


def header(title: str) -> None:
    ops = " ".join(f"{op:>7}" for op in kernel_data.OP_KINDS)
    print(f"\n{title}\n{'':<44}{ops}     all   (MAPE %)")


def line(label: str, rows, device: DeviceSpec) -> None:
    print(f"{label:<44}{fmt_mape(kernel_data.mape_by_op(rows, kernel_data.price(rows, device)))}")


def report(data, fitted: dict[str, dict[str, float]]) -> None:
    by_token_band(data)
    leave_one_model_out(data["vidur"])
    across_sources(data, fitted)
    decode_attention()
    table2(data["vidur"].get("a100", []))


BANDS = ((1, 64), (64, 512), (512, 4096), (4096, 1 << 30))


def by_token_band(data) -> None:
    """Where the error lives: MAPE and mean signed error of the presets by GEMM rows m."""
    cells = "".join(
        f"{f'm {lo}-{hi - 1}' if hi < 1 << 30 else f'm >= {lo}':>16}" for lo, hi in BANDS
    )
    print(f"\nBy token count, presets as shipped (MAPE %, bias %)\n{'':<22}{cells}")
    for source, by_gpu in data.items():
        for gpu, rows in sorted(by_gpu.items()):
            m = np.array([r.m for r in rows])
            ratio = kernel_data.price(rows, load_device(gpu)) / np.array([r.seconds for r in rows])
            out = ""
            for lo, hi in BANDS:
                band = ratio[(m >= lo) & (m < hi)] - 1.0
                out += f"{np.abs(band).mean() * 100:9.1f} {band.mean() * 100:+5.1f} "
            print(f"{gpu + ' ' + source:<22}{out}")


def leave_one_model_out(by_gpu) -> None:
    header("Leave one model out (Vidur): fit on the other models, price the held-out one")
    for gpu, rows in sorted(by_gpu.items()):
        device = load_device(gpu)
        for model in sorted({r.model for r in rows}):
            held = [r for r in rows if r.model == model]
            params = kernel_fit.fit([[r for r in rows if r.model != model]], device)
            line(f"{gpu} {model[:34]}", held, kernel_fit.with_params(device, params))


def across_sources(data, fitted) -> None:
    """Each single-source fit of an H100-class card, priced against every other source."""
    header("Across sources: one source's own fit priced against the others")
    targets = [(src, gpu) for gpu in ("h100", "h200") for src in data if data[src].get(gpu)]
    for fit_src, fit_gpu in targets:
        params = kernel_fit.fit([data[fit_src][fit_gpu]], load_device(fit_gpu))
        for src, gpu in targets:
            device = kernel_fit.with_params(load_device(gpu), params)
            line(f"{fit_gpu} {fit_src} fit -> {gpu} {src}", data[src][gpu], device)


def decode_attention() -> None:
    """Decode attention is priced by `memory` and the overhead alone (Op/B ~ the GQA group)."""
    print("\nDecode attention of the measured CSVs, with the presets (MAPE %, bias %)")
    for path in kernel_data.measured_paths():
        device = load_device(path.stem.split("__", 1)[0])
        with path.open(newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["op"] == "decode_attn"]
        if not rows:
            continue
        # the CSV's flops and bytes are one GPU's; at TP 1 that is the whole replica
        pricer = Pricer(kernel_data._system(device, 1), kernel_data.DTYPE_BYTES)
        ops = [
            Op("attn_decode", OpKind.ATTENTION, float(r["flops"]), float(r["bytes"])) for r in rows
        ]
        ratio = np.array([pricer.time(o, device.name) for o in ops]) / np.array(
            [float(r["median_ms"]) * 1e-3 for r in rows]
        )
        big = np.array([o.bytes >= 1e8 for o in ops])
        print(
            f"  {device.name}: {len(rows)} shapes: {np.abs(ratio - 1).mean() * 100:.1f}, "
            f"{(ratio - 1).mean() * 100:+.1f}; the {big.sum()} reading >= 100 MB: "
            f"{np.abs(ratio[big] - 1).mean() * 100:.1f}, {(ratio[big] - 1).mean() * 100:+.1f}"
        )


def table2(vidur_a100) -> None:
    """Emulated vs NanoFlow's Real, and Vidur's A100 time of the very same GEMM shapes
    (Llama-3-70B at TP 8 has Llama-2-70B's projections; 2048 tokens; x 80 layers)."""
    print("\nNanoFlow Table 2 (LLaMA-2-70B, 8 x A100, 2048 tokens), whole model, ms")
    emulated = nanoflow_table2.op_times_ms(load_device("a100"))
    same = [r for r in vidur_a100 if r.model == "Meta-Llama-3-70B" and r.tp == 8 and r.m == 2048]
    print(f"  {'op':<12}{'real':>8}{'emulated':>10}{'error':>8}{'Vidur same shape':>18}")
    for op, real in nanoflow_table2.REAL_MS.items():
        ms = emulated[op]
        times = [r.seconds * 80e3 for r in same if r.op == op]
        vidur = f"{np.mean(times):10.2f} ({np.mean(times) / real - 1:+.0%})" if times else ""
        print(f"  {op:<12}{real:8.2f}{ms:10.2f}{(ms / real - 1) * 100:+7.1f}% {vidur}")
