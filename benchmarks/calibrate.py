"""Calibrate the GPU presets' efficiencies against measured kernel times, and print the evidence.

    .venv/bin/python benchmarks/calibrate.py

Fits, per GPU, the GEMM parameters of `kernel_fit` across every model and TP degree of one
source (Vidur's profiling data for a100 and h100; this project's measured CSVs for h200),
takes the a100's `memory` (decode attention) and `network` (all-reduce) from NanoFlow
Table 2, and prints: the values to paste into the presets, the mean absolute percentage error
(MAPE) per op kind of the fitted values *and* of the presets as shipped (through the real
`Pricer`), cross-checks on data that a fit did not see, and the Table 2 comparison.
docs/calibration.md explains the method and records the output.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import calibration_checks  # noqa: E402
import kernel_data  # noqa: E402
import kernel_fit  # noqa: E402
import nanoflow_table2  # noqa: E402

from llmemu.core.catalog import load_device  # noqa: E402
from llmemu.core.specs.device import DeviceSpec  # noqa: E402

# Which sources calibrate which preset. Vidur's profiling data is the primary reference; the
# h100 also has this project's own measurements (a newer software stack, CUDA graphs), which
# count equally in its fit; the h200 has only this project's measurements.
FIT_SOURCES = {"a100": ("vidur",), "h100": ("vidur", "measured"), "h200": ("measured",)}


def calibrate_a100(row_sets, device: DeviceSpec) -> dict[str, float]:
    """GEMM fit with `memory` held at the Table 2 decode-attention value (which itself depends
    on the fitted per-kernel overhead, hence two rounds), then `network` from Table 2."""
    params = kernel_fit.fit(row_sets, device)
    for _ in range(2):
        fitted = kernel_fit.with_params(device, params)
        memory = nanoflow_table2.solve_efficiency(fitted, "memory", "attn_decode")
        params = kernel_fit.fit(row_sets, device, fixed={"memory": memory})
    fitted = kernel_fit.with_params(device, params)
    params["network"] = nanoflow_table2.solve_efficiency(fitted, "network", "allreduce")
    return params


def rounded(params: dict[str, float]) -> dict[str, float]:
    """The precision the presets carry (well inside the fit's own uncertainty)."""
    out = {k: round(v, 3) for k, v in params.items()}
    out["half_tokens"] = float(round(params["half_tokens"]))
    out["overhead_s"] = round(params["overhead_s"] * 1e6, 1) * 1e-6
    return out


def main() -> None:
    data = {src: kernel_data.load_rows(src) for src in ("vidur", "measured")}
    fitted: dict[str, dict[str, float]] = {}
    for gpu, sources in FIT_SOURCES.items():
        missing = [src for src in sources if not data[src].get(gpu)]
        if missing:  # a quoted comparison must not vanish because a file did
            folder = {"vidur": kernel_data.VIDUR_DIR, "measured": kernel_data.MEASURED_DIR}
            where = ", ".join(str(folder[src]) for src in missing)
            raise SystemExit(f"calibrate: no {gpu} kernel rows in {where}; restore data/kernels from git")  # fmt: skip
        row_sets = [data[src][gpu] for src in sources]
        device = load_device(gpu)
        fit = calibrate_a100 if gpu == "a100" else kernel_fit.fit
        fitted[gpu] = rounded(fit(row_sets, device))
        rows = [r for rs in row_sets for r in rs]
        gap = kernel_fit.check_mirror(rows, device, fitted[gpu])
        counts = " + ".join(f"{len(rs)} {rs[0].source}" for rs in row_sets)
        print(f"{gpu}: fit to {counts} rows; numpy copy vs real Pricer: max gap {gap:.1e}")
    print_presets(fitted)
    print_errors(data, fitted)
    calibration_checks.report(data, fitted)


def print_presets(fitted: dict[str, dict[str, float]]) -> None:
    print("\nValues for the presets (efficiency: and op_overhead_s:)")
    for gpu, p in fitted.items():
        extra = f" network: {p['network']}" if "network" in p else ""
        print(
            f"  {gpu}: compute: {p['compute']} compute_half_tokens: {p['half_tokens']:.0f} "
            f"memory: {p['memory']}{extra} op_overhead_s: {p['overhead_s']:.2e}"
        )


def print_errors(data, fitted: dict[str, dict[str, float]]) -> None:
    header = calibration_checks.header
    line = calibration_checks.line
    header("Kernel data vs emulator (fitted values / presets as shipped)")
    for source, by_gpu in data.items():
        for gpu, rows in sorted(by_gpu.items()):
            device = load_device(gpu)
            if gpu in fitted:
                tuned = kernel_fit.with_params(device, fitted[gpu])
                line(f"{gpu} {source} ({len(rows)} rows) fitted", rows, tuned)
            line(f"{gpu} {source} ({len(rows)} rows) preset", rows, device)


if __name__ == "__main__":
    main()
