"""Device specs: one processor's peak rates, memory and the efficiencies that calibrate them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmemu.core.specs.pim import PimCommands

PEAK_DTYPES = {"fp32", "tf32", "fp16", "bf16", "fp8", "int8", "fp4"}


class Efficiency(BaseModel):
    """Fractions of peak that real kernels reach; calibrated per device (see the preset's comments).

    GEMM efficiency depends on shape: with few tokens a GEMM is launch- and tile-bound, so the
    achieved fraction of peak compute rises with the row count m as
    ``compute * m / (m + compute_half_tokens)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)

    compute: float = Field(gt=0, le=1, description="fraction of peak FLOP/s of large GEMMs")
    compute_fp8: float = Field(
        0.0,
        ge=0,
        le=1,
        description="fraction of the FP8 peak that large FP8 GEMMs reach "
        "(0: compute); FP8 kernels keep the FP16 data path's overheads at twice the math rate",
    )
    sustained_clock: float = Field(
        1.0,
        gt=0,
        le=1,
        description="compute rate under a sustained serving load relative to "
        "isolated kernels: a GPU at its power limit lowers its clock (1: no throttling)",
    )
    compute_half_tokens: float = Field(
        0.0, ge=0, description="GEMM rows at which compute efficiency is half of `compute`"
    )
    attention_compute: float = Field(
        0.0, ge=0, le=1, description="fraction of peak FLOP/s of attention kernels (0: use compute)"
    )
    memory: float = Field(
        gt=0, le=1, description="fraction of peak memory bandwidth when streaming"
    )
    attention_request_tokens: float = Field(
        0.0,
        ge=0,
        description="decode attention: fixed work per request (a partly used tile, per-request "
        "commands) in tokens of context; n requests over C tokens cost as C + n x this",
    )
    network: float = Field(1.0, gt=0, le=1, description="fraction of link bandwidth in collectives")

    def compute_for(self, dtype_bytes: int) -> float:
        """Large-GEMM fraction of the peak for elements of this width."""
        if dtype_bytes == 1 and self.compute_fp8:
            return self.compute_fp8
        return self.compute


class DeviceSpec(BaseModel):
    """One processor: a GPU, an NPU, a PIM unit or an edge CPU."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)

    name: str = Field(description="preset name")
    kind: Literal["gpu", "npu", "pim", "cpu"] = Field(description="processor class")
    peak_flops: dict[str, float] = Field(description="FLOP/s by dtype: fp16, bf16, fp8, fp32")
    memory_bytes_per_s: float = Field(gt=0, description="bandwidth of the memory it reads, B/s")
    memory_capacity_bytes: float = Field(ge=0, description="memory it owns, bytes")
    internal_bytes_per_s: float = Field(
        0.0, ge=0, description="PIM: bandwidth its in-memory units see, B/s (0: not a PIM)"
    )
    link_bytes_per_s: float = Field(0.0, ge=0, description="per-direction link bandwidth, B/s")
    link_latency_s: float = Field(0.0, ge=0, description="link latency per hop, s")
    disk_bytes_per_s: float = Field(
        0.0, ge=0, description="weight-streaming bandwidth from disk, B/s"
    )
    swap_bytes: float = Field(
        0.0, ge=0, description="swap space beyond memory_capacity_bytes before OOM (edge), bytes"
    )
    op_overhead_s: float = Field(0.0, ge=0, description="fixed cost of one kernel, s")
    channels: int = Field(
        1, ge=1, description="independent memory channels a request's KV is confined to (PIM)"
    )
    efficiency: Efficiency = Field(description="calibrated fractions of peak")
    pim_commands: PimCommands | None = Field(
        None, description="bank PIM: attention priced command by command (core/pim_commands.py)"
    )
    source: str = Field("", description="where the numbers come from")

    @field_validator("peak_flops")
    @classmethod
    def _positive_peaks(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("give at least one dtype's peak, e.g. {fp16: 989.0e12}")
        unknown = sorted(set(value) - PEAK_DTYPES)
        if unknown:
            raise ValueError(f"unknown dtype {unknown[0]!r}; use {', '.join(sorted(PEAK_DTYPES))}")
        if min(value.values()) <= 0:
            raise ValueError("every peak must be > 0 FLOP/s")
        return value

    @property
    def compute_bytes_per_s(self) -> float:
        """Bandwidth this processor's own compute reads memory at."""
        return self.internal_bytes_per_s or self.memory_bytes_per_s

    def flops_for(self, dtype_bytes: int) -> float:
        """Peak FLOP/s for elements of this width (fp32 for 4 bytes, fp16 for 2, fp8 for 1)."""
        key = {4: "fp32", 2: "fp16", 1: "fp8"}.get(dtype_bytes, "fp16")
        if key in self.peak_flops:
            return self.peak_flops[key]
        return self.peak_flops.get("fp16") or max(self.peak_flops.values())
