"""The serve command's edge: read the scenario (or --model/--system), build the replica the
offline simulator would build, and everything the gateway needs to describe it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmemu.cli.files import Loaded, load_scenario, load_scenario_data, read_trace
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

    @property
    def cache_config(self) -> dict[str, str]:
        kv = self.replica.engine.kv
        return {
            "block_size": str(kv.block_size),
            "num_gpu_blocks": str(kv.num_blocks),
            "gpu_memory_utilization": str(self.replica.system.memory_utilization),
            "enable_prefix_caching": "False",
            "cache_dtype": "auto",
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
    replica = build_replica(loaded.model, loaded.system, policy, seed=spec.seed, keep_plan=True)
    kv = replica.engine.kv
    max_model_len = min(loaded.model.max_context, kv.num_blocks * kv.block_size)
    return Emulation(
        loaded=loaded,
        replica=replica,
        served_model_name=settings.served_model_name or _typed_name(loaded),
        max_model_len=max_model_len,
        seed=spec.seed if settings.seed is None else settings.seed,
        output_rows=_output_rows(loaded),
    )


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
    if not path.exists():
        raise ConfigError(f"workload file {str(path)!r} does not exist; fix the path")
    if wl.lengths is not None:
        return parse_length_rows(path.read_text(), str(path))[:, 1]
    return read_trace(path)[:, 2].astype(np.int64)
