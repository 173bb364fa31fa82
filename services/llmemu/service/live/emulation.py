"""The serve command's edge: read the scenario (or --model/--system), build the replica the
offline simulator would build, and everything the gateway needs to describe it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from llmemu.cli.files import Loaded, load_scenario, load_scenario_data, read_trace
from llmemu.cli.reading import DATA_BYTES, read_text
from llmemu.core.errors import ConfigError
from llmemu.core.replica import Replica, build_replica
from llmemu.core.workload import parse_length_rows
from llmemu.service.api.settings import ServeSettings


@dataclass
class Emulation:
    loaded: Loaded
    replica: Replica
    served_model_name: str
    max_model_len: int
    """Longest prompt + output: the model's context, or less if the KV cache holds less."""
    seed: int
    output_rows: np.ndarray | None
    """Output lengths of the scenario's lengths file or trace, if it has one."""
    fleet: list[tuple[str, Replica]] = field(default_factory=list)
    """Named replicas of a cluster scenario (empty: `replica` serves alone)."""

    @property
    def kv_usage(self) -> float:
        """KV usage of the replica, or the mean over the fleet's replicas."""
        if not self.fleet:
            return self.replica.engine.kv.usage
        return sum(r.engine.kv.usage for _, r in self.fleet) / len(self.fleet)

    @property
    def prefix_caching(self) -> bool:
        """Whether a replica caches prefixes (the gateway then sends prompts' token ids)."""
        replicas = [r for _, r in self.fleet] or [self.replica]
        return any(hasattr(r.engine.kv, "set_hashes") for r in replicas)

    @property
    def cache_config(self) -> dict[str, str]:
        kv = self.replica.engine.kv
        return {
            "block_size": str(kv.block_size),
            "num_gpu_blocks": str(kv.num_blocks),
            "gpu_memory_utilization": str(self.replica.system.memory_utilization),
            "enable_prefix_caching": str(self.prefix_caching),
            "cache_dtype": "fp8" if self.replica.model.kv_width == 1 else "auto",
        }


def load_emulation(settings: ServeSettings) -> Emulation:
    if settings.scenario:
        loaded = load_scenario(settings.scenario, settings.overrides)
    elif settings.model and settings.system:
        data = {"model": settings.model, "system": settings.system}
        loaded = load_scenario_data(data, Path.cwd(), settings.overrides, "command line")
    else:
        raise ConfigError("give a scenario file, or both --model and --system")
    return build_emulation(loaded, settings)


def build_emulation(loaded: Loaded, settings: ServeSettings) -> Emulation:
    spec = loaded.spec
    # One engine step per iteration: every token gets the end time of its own iteration.
    policy = spec.policy.model_copy(update={"fuse_iterations": False})
    fleet = _fleet(loaded, policy) if spec.cluster is not None else []
    replica = (
        fleet[0][1]
        if fleet
        else build_replica(loaded.model, loaded.system, policy, seed=spec.seed, keep_plan=True)
    )
    kv_tokens = min(r.engine.kv.num_blocks * r.engine.kv.block_size for _, r in fleet or [("", replica)])  # fmt: skip
    max_model_len = min(loaded.model.max_context, kv_tokens)
    return Emulation(
        loaded=loaded,
        replica=replica,
        served_model_name=settings.served_model_name or _typed_name(loaded),
        max_model_len=max_model_len,
        seed=spec.seed if settings.seed is None else settings.seed,
        output_rows=_output_rows(loaded),
        fleet=fleet,
    )


def _fleet(loaded: Loaded, policy) -> list[tuple[str, Replica]]:
    """One replica per pool member; live fleets serve both phases on every replica."""
    from llmemu.core.catalog import load_system
    from llmemu.core.fleet.build import pool_policy

    cluster = loaded.spec.cluster
    if cluster.disaggregated:
        raise ConfigError(
            "cluster: prefill/decode pools are emulated offline only (llmemu simulate); "
            "serve mixed pools live"
        )
    replicas = []
    for p, pool in enumerate(cluster.pool_list()):
        system = loaded.system if pool.system is None else load_system(pool.system)
        pol = pool_policy(policy, pool, f"cluster.pools[{p}]")
        for i in range(pool.replicas):
            seed = loaded.spec.seed + len(replicas)
            replica = build_replica(loaded.model, system, pol, seed=seed, keep_plan=True)
            replicas.append((f"{pool.name}-{i}", replica))
    return replicas


def _typed_name(loaded: Loaded) -> str:
    """The model as the user wrote it (an HF id or a path, as vLLM serves it), else its name."""
    ref = loaded.spec.model
    return ref if isinstance(ref, str) else loaded.model.name


def _output_rows(loaded: Loaded) -> np.ndarray | None:
    wl = loaded.spec.workload
    if wl is None or (wl.lengths is None and wl.trace is None):
        return None
    name = wl.lengths.path if wl.lengths is not None else wl.trace
    path = Path(name) if Path(name).is_absolute() else loaded.base_dir / name
    if wl.lengths is not None:
        text = read_text(path, "workload.lengths.path", DATA_BYTES)
        return parse_length_rows(text, str(path))[:, 1]
    return read_trace(path, "workload.trace")[:, 2].astype(np.int64)
