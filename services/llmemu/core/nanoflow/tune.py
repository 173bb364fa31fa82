"""`llmemu tune`: search a NanoFlow pipeline for a scenario's model, system and lengths.

The search runs on the batches the scenario's offline run settles into (steady.py: the
scheduler run on an endless queue of the scenario's mean lengths), so the pipeline fits
the mix of decodes and prefills it will execute, including iterations the KV cache or the
admission rule keep below the dense batch; its throughput is that mix's tokens per second
per device, next to the `sequential` engine's and the default pipeline's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmemu.core.batching import check_settings, switch_batching
from llmemu.core.errors import ConfigError
from llmemu.core.nanoflow.optimal import optimal_tokens_per_s_per_device
from llmemu.core.nanoflow.overlap import REST
from llmemu.core.nanoflow.pipeline import time_pipeline
from llmemu.core.nanoflow.search import search_pipeline
from llmemu.core.nanoflow.spec import PipelineSpec, pipeline_from_options
from llmemu.core.nanoflow.steady import BatchMix, observed_batches
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.model import ModelSpec
from llmemu.core.specs.system import SystemSpec


@dataclass(frozen=True)
class Tuned:
    mix: BatchMix
    spec: PipelineSpec
    iteration_s: float
    """Mean over the mix, as are the two below."""
    default_s: float
    """The policy's own pipeline (policy.options, else the paper's) on the same mix."""
    sequential_s: float
    devices: int
    optimal_tokens_per_s_per_device: float
    evaluated: int

    @property
    def mean_tokens(self) -> float:
        """Tokens an iteration of the mix computes (a prompt recomputed after preemption
        counts again)."""
        return sum(batch.num_tokens * weight for batch, weight in self.mix)

    def tokens_per_s_per_device(self, seconds: float) -> float:
        return self.mean_tokens / seconds / self.devices


def tune(
    model: ModelSpec,
    system: SystemSpec,
    policy: PolicySpec,
    mean_input: float,
    mean_output: float,
    *,
    max_evaluations: int = 2000,
    stop: Callable[[], bool] = lambda: False,
    seed: int = 0,
) -> Tuned:
    dense = policy.max_num_batched_tokens
    prompt, output = max(1, round(mean_input)), max(1, round(mean_output))
    check_settings(policy)
    # The search times batches of the non-overlapped engine, which reads none of the
    # scenario's own batching settings (a window, nanoflow's options).
    sequential = switch_batching(policy, "sequential")
    replica = build_replica(model, system, sequential)
    kv_tokens = replica.memory.kv_tokens
    if prompt + output > kv_tokens:
        raise ConfigError(
            f"a request of {prompt} + {output} tokens needs more KV cache than the replica "
            f"holds ({int(kv_tokens)} tokens): shorten the workload or add memory"
        )
    mix = observed_batches(replica.engine, prompt, output)
    plan_pricer = replica.engine.pricer
    pricer, router = plan_pricer.pricer, plan_pricer.router
    found = search_pipeline(
        model, mix, dense, pricer, router, max_evaluations=max_evaluations, stop=stop, seed=seed
    )
    default = pipeline_from_options(dense, policy.options)
    return Tuned(
        mix=mix,
        spec=found.spec,
        iteration_s=found.iteration_s,
        default_s=sum(
            w * time_pipeline(model, b, default, pricer, router).duration_s for b, w in mix
        ),
        sequential_s=sum(w * plan_pricer.price(b).duration_s for b, w in mix),
        devices=system.tensor_parallel,
        optimal_tokens_per_s_per_device=optimal_tokens_per_s_per_device(model, system),
        evaluated=found.evaluated,
    )


def as_options(spec: PipelineSpec) -> dict[str, Any]:
    """policy.options that reproduce `spec` (paste under `policy:` in a scenario)."""
    options: dict[str, Any] = {"nano_batches": list(spec.nano_tokens)}
    if spec.splits:
        options["splits"] = {name: list(sizes) for name, sizes in spec.splits}
    options["shares"] = {
        name: _share(values[0]) if len(values) == 1 else [_share(v) for v in values]
        for name, values in spec.shares
    }
    options["order"] = spec.order
    return options


def _share(value: float) -> float | str:
    return "rest" if value == REST else value
