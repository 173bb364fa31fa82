"""Engine profiles: what a serving engine spends per iteration besides the GPU kernels.

A real engine's iteration is not only its kernels. Between two forward passes the host
schedules the batch, prepares inputs (token ids, positions, block tables), samples and
detokenises; launch gaps that CUDA graphs do not hide add to it. With a large batch the
sampler itself reads the whole vocabulary's logits of every sequence. These costs belong to
the engine (vLLM, TensorRT-LLM, SGLang), not to the GPU, so they live in a named profile
(`policy.engine`, presets in `presets/engines/`):

    host_s = iteration_s + sequence_s x sequences + token_s x tokens   (serial with the GPU)
    sampler_s = sequences x vocab x sampler_bytes_per_logit / (bandwidth x memory)

The profile also says whether the GPUs run at their sustained clock (`Efficiency.
sustained_clock`): a real engine holds them at their power limit for minutes; the papers'
simulators (profile `none`) price kernels at the isolated-kernel rates.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from llmemu.core import presets
from llmemu.core.catalog import validated
from llmemu.core.ops import BatchShape
from llmemu.core.pricing import IterationCost, PlanPricer, WrappedPlanPricer


class EngineProfile(BaseModel):
    """Per-iteration work of one serving engine; every number's source is in its preset."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)

    name: str
    iteration_s: float = Field(0.0, ge=0, description="fixed host time of one iteration, s")
    sequence_s: float = Field(0.0, ge=0, description="host time per sequence in the batch, s")
    token_s: float = Field(0.0, ge=0, description="host time per token computed, s")
    sampler_bytes_per_logit: float = Field(
        0.0, ge=0, description="bytes the sampler moves per logit of each sampled sequence"
    )
    sustained_clocks: bool = Field(
        False, description="GPUs at their sustained clock under load (Efficiency.sustained_clock)"
    )
    source: str = ""

    def host_s(self, batch: BatchShape) -> float:
        sequences = batch.num_decode + len(batch.prefill_chunks)
        return self.iteration_s + self.sequence_s * sequences + self.token_s * batch.num_tokens

    @property
    def adds_time(self) -> bool:
        return bool(self.iteration_s or self.sequence_s or self.token_s)


def engine_names() -> tuple[str, ...]:
    return presets.names("engines")


def load_engine(name: str) -> EngineProfile:
    """A profile by preset name; an unknown name is an error listing the valid ones."""
    return validated(EngineProfile, presets.raw("engines", name), f"engine {name!r}")


class HostPlanPricer(WrappedPlanPricer):
    """Wraps a batching policy's PlanPricer: its iteration plus the engine's host work and
    sampler, one after the other (the engines of the table run them serially)."""

    def __init__(self, inner: PlanPricer, profile: EngineProfile, sampler_s_per_sequence: float):
        super().__init__(inner)
        self.profile = profile
        self.sampler_s_per_sequence = sampler_s_per_sequence

    def with_routing(self, batch: BatchShape) -> BatchShape:
        return self.inner.with_routing(batch)

    def price(self, batch: BatchShape) -> IterationCost:
        cost = self.inner.price(batch)
        extra = self.profile.host_s(batch) + batch.num_logits * self.sampler_s_per_sequence
        return IterationCost(cost.duration_s + extra, None, cost.plan, ((cost, 1.0),))


def with_engine(plan_pricer: PlanPricer, profile: EngineProfile) -> PlanPricer:
    """`plan_pricer` with the profile's per-iteration work added (itself when there is none)."""
    per_sequence = 0.0
    if profile.sampler_bytes_per_logit:
        device = plan_pricer.pricer.system.primary.device
        rate = device.memory_bytes_per_s * device.efficiency.memory
        # Every tensor-parallel rank samples the gathered logits whole: not divided by TP.
        per_sequence = plan_pricer.model.vocab_size * profile.sampler_bytes_per_logit / rate
    if not profile.adds_time and not per_sequence:
        return plan_pricer
    return HostPlanPricer(plan_pricer, profile, per_sequence)
