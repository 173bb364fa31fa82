"""NanoFlow's optimal throughput (Eq. 5): a compute-bound engine serves at best
Compute / (2 P_model) tokens per second per device, whatever the lengths.

Compute is the device's large-GEMM rate: its peak times efficiency.compute, the rate the
emulator prices big GEMMs at (NanoFlow uses its profiled CUTLASS peak, 280 TFLOPS per
A100). P_model is the parameters a token multiplies (all of them for a dense model, the
active ones for an MoE).
"""

from __future__ import annotations

from llmemu.core.specs.model import ModelSpec, active_param_count
from llmemu.core.specs.system import SystemSpec


def gemm_flops_per_s(model: ModelSpec, system: SystemSpec) -> float:
    device = system.primary.device
    return device.flops_for(model.dtype_bytes) * device.efficiency.compute


def optimal_tokens_per_s_per_device(
    model: ModelSpec, system: SystemSpec, flops_per_s: float | None = None
) -> float:
    compute = flops_per_s if flops_per_s is not None else gemm_flops_per_s(model, system)
    return compute / (2.0 * active_param_count(model))


REPORTED_FOR = ("nanoflow", "sequential")
"""Batching policies whose `simulate --json` throughput carries the per-device and optimal
rates (NanoFlow's engine and its non-overlapped baseline)."""


def throughput_section(replica, total_tokens_per_s: float) -> dict[str, float]:
    """Extra `throughput` keys of a simulation summary, as NanoFlow reports them."""
    if replica.policy.batching not in REPORTED_FOR:
        return {}
    devices = replica.system.tensor_parallel
    return {
        "total_tokens_per_s_per_device": total_tokens_per_s / devices,
        "optimal_tokens_per_s_per_device": optimal_tokens_per_s_per_device(
            replica.model, replica.system
        ),
    }
