"""Fit a device's GEMM efficiency parameters to measured kernel times.

The parameters are the four that `llmemu.core.cost.Rates` reads for a GEMM:
  compute        fraction of peak FLOP/s that large GEMMs reach,
  half_tokens    GEMM rows m at which the compute efficiency is half of that
                 (small m fills few tensor-core tiles),
  memory         fraction of peak memory bandwidth when a GEMM streams its weight,
  overhead_s     fixed time per kernel (launch, prologue and tail).
The fit minimises the mean absolute relative error over all rows of one GPU (every model
and TP degree together), so no model or shape gets parameters of its own.

Thousands of candidate parameter sets are tried, so the search prices the rows with a numpy
copy of the formula in `Rates`/`Pricer.time`; `check_mirror` proves the copy equal to the
real code path on the same rows, and every reported error comes from the real `Pricer`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import kernel_data
import numpy as np

from llmemu.core.specs.device import DeviceSpec, Efficiency

PARAMS = ("compute", "half_tokens", "memory", "overhead_s")
START = {"compute": 0.75, "half_tokens": 50.0, "memory": 0.8, "overhead_s": 5e-6}
STARTS = ({}, {"half_tokens": 0.2, "overhead_s": 0.5}, {"half_tokens": 3.0, "overhead_s": 1.6})


def with_params(device: DeviceSpec, params: dict[str, float]) -> DeviceSpec:
    """`device` with the fitted parameters in place (the rest of its efficiency kept)."""
    eff = device.efficiency.model_dump()
    eff.update(
        compute=params["compute"],
        compute_half_tokens=params["half_tokens"],
        memory=params["memory"],
    )
    return device.model_copy(
        update={"efficiency": Efficiency(**eff), "op_overhead_s": params["overhead_s"]}
    )


def _arrays(rows: list[kernel_data.KernelRow]) -> dict[str, np.ndarray]:
    ops = [r.as_op() for r in rows]
    tp = np.array([r.tp for r in rows], float)
    return {
        "flops": np.array([o.flops for o in ops]) / tp,
        "bytes": np.array([o.bytes for o in ops]) / tp,
        "m": np.array([o.tokens for o in ops], float),
        "seconds": np.array([r.seconds for r in rows]),
    }


def mirror_seconds(a: dict[str, np.ndarray], device: DeviceSpec, p: dict[str, float]):
    """`Pricer.time` of a GEMM, vectorised: max(compute, memory) + overhead, per device."""
    peak = device.flops_for(kernel_data.DTYPE_BYTES)
    compute = a["flops"] * (a["m"] + p["half_tokens"]) / (a["m"] * peak * p["compute"])
    memory = a["bytes"] / (device.compute_bytes_per_s * p["memory"])
    return np.maximum(compute, memory) + p["overhead_s"]


def check_mirror(rows, device: DeviceSpec, params: dict[str, float]) -> float:
    """Largest relative gap between the numpy copy and the real Pricer (should be ~1e-15)."""
    real = kernel_data.price(rows, with_params(device, params))
    copy = mirror_seconds(_arrays(rows), device, params)
    return float(np.max(np.abs(copy / real - 1.0)))


def fit(row_sets, device: DeviceSpec, fixed: dict[str, float] | None = None) -> dict[str, float]:
    """Parameters minimising the mean |predicted / measured - 1|, averaged over `row_sets`.

    Each set is one source (one lab's setup) of the same GPU and counts equally, however many
    rows it has, so that one source's sampling density does not outvote the other."""
    fixed = dict(fixed or {})
    free = [k for k in PARAMS if k not in fixed]
    sets = [_arrays(rows) for rows in row_sets]

    def params_of(x: np.ndarray) -> dict[str, float]:
        return {**fixed, **{k: math.exp(v) for k, v in zip(free, x, strict=True)}}

    def loss(x: np.ndarray) -> float:
        p = params_of(x)
        if p["compute"] > 1.0 or p["memory"] > 1.0:  # fractions of a peak
            return 1e9
        errors = [np.abs(mirror_seconds(a, device, p) / a["seconds"] - 1.0) for a in sets]
        return float(np.mean([e.mean() for e in errors]))

    # A few starts and a restart from each end: the simplex can collapse along a parameter
    # that barely matters where it stands (a 0.1 us overhead), so one start is not enough.
    results = []
    for scale in STARTS:
        x = np.log([START[k] * scale.get(k, 1.0) for k in free])
        x = nelder_mead(loss, nelder_mead(loss, x))
        results.append((loss(x), tuple(x)))
    return params_of(np.array(min(results)[1]))


def nelder_mead(f: Callable[[np.ndarray], float], x0: np.ndarray, iters: int = 600):
    """Minimise f from x0 (in log-parameter space, so steps are relative)."""
    simplex = [x0] + [x0 + 0.3 * e for e in np.eye(len(x0))]
    values = [f(x) for x in simplex]
    for _ in range(iters):
        order = np.argsort(values)
        simplex, values = [simplex[i] for i in order], [values[i] for i in order]
        centre = np.mean(simplex[:-1], axis=0)
        worst = simplex[-1]
        reflected = centre + (centre - worst)
        fr = f(reflected)
        if fr < values[0]:
            expanded = centre + 2.0 * (centre - worst)
            fe = f(expanded)
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            contracted = centre + 0.5 * (worst - centre)
            fc = f(contracted)
            if fc < values[-1]:
                simplex[-1], values[-1] = contracted, fc
            else:
                best = simplex[0]
                simplex = [best] + [best + 0.5 * (x - best) for x in simplex[1:]]
                values = [values[0]] + [f(x) for x in simplex[1:]]
    return simplex[int(np.argmin(values))]
