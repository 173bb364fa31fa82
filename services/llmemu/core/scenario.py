"""Scenario files: model, system, policy, workload and seed, validated.

`apply_overrides` implements `--set key.path=value` on the raw mapping before validation,
so an override is checked exactly like the file.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmemu.core.data_limits import MAX_KEY_CHARS, check_tree, load_yaml, short
from llmemu.core.errors import ConfigError
from llmemu.core.fleet.spec import ClusterSpec
from llmemu.core.workload import WorkloadSpec


class KVOffload(BaseModel):
    """A host-memory tier under the device KV cache (vLLM CPU offload, LMCache)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    bytes: float = Field(gt=0, description="host memory for KV blocks, bytes")
    bandwidth_bytes_per_s: float = Field(gt=0, description="host-to-device copy, bytes/s")


class PolicySpec(BaseModel):
    """How the replica batches, routes and communicates. A setting only some batching
    policies read is refused under the others when it is not at its default
    (core/batching.py SETTINGS)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    batching: str = Field("continuous", description="batching policy name")
    max_num_seqs: int = Field(256, gt=0, description="requests in one batch at most")
    max_num_batched_tokens: int = Field(8192, gt=0, description="token budget per iteration")
    block_size: int = Field(16, gt=0, description="KV cache block, tokens")
    admission: str = Field(
        "greedy", description="greedy (vLLM) or projected-peak (NanoFlow): core/admission.py"
    )
    routing: str = Field("xpu-only", description="routing policy name")
    engine: str = Field(
        "none",
        description="engine profile (core/presets/engines): per-iteration host work and "
        "sustained clocks of vllm, trtllm, sglang; none: kernels only, as the papers' simulators",
    )
    allreduce: str = Field("ring", description="all-reduce algorithm name")
    expert_routing: Literal["uniform", "balanced"] = Field(
        "uniform", description="uniform (sampled, seeded) or balanced"
    )
    sub_batches: int = Field(
        1, ge=1, description="sub-batch-interleave only: sub-batches per iteration (NeuPIMs: 2)"
    )
    memory_window: int | None = Field(
        None, ge=0, description="edge only: weight blocks resident per node, 0 = all (no window)"
    )
    fuse_iterations: bool = Field(
        True,
        description="price stable decode runs in one engine step (same results, faster; "
        "MoE under expert_routing uniform draws one routing per step, so the sampling noise "
        "differs: use balanced to compare)",
    )
    prefix_caching: bool = Field(
        False, description="reuse the KV of cached prompt prefixes (vLLM semantics)"
    )
    kv_offload: KVOffload | None = Field(
        None, description="host tier for blocks the device evicts (needs prefix_caching)"
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="knobs of one batching policy (edge: cold_start, runtime_bytes, "
        "checkpoint_dtype_bytes; nanoflow: nano_batches, splits, shares, order, overlap)",
    )


class ScenarioSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    model: str | dict[str, Any] = Field(description="preset name or {hf_config: path}")
    system: str | dict[str, Any] = Field(description="preset name or an inline system")
    policy: PolicySpec = Field(default_factory=PolicySpec)
    workload: WorkloadSpec | None = Field(None, description="required to simulate")
    cluster: ClusterSpec | None = Field(
        None, description="replicas behind a router, or pools (core/fleet/spec.py)"
    )
    seed: int = Field(0, ge=0)
    dtype: str | None = Field(
        None,
        description="fp16, bf16, fp32: every tensor; fp8, int8: weights and KV cache at 8 bits, "
        "activations and collectives 16-bit (as engines serve FP8)",
    )
    kv_dtype: str | None = Field(None, description="the KV cache's own dtype, e.g. fp8")
    name: str = ""


def _field_path(err: dict[str, Any]) -> str:
    parts = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "tagged-union"))]
    return ".".join(parts)


def parse_scenario(data: Any, source: str = "scenario") -> ScenarioSpec:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with model, system and workload keys")
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _field_path(err) or "(top level)"
        got = f" (got {short(repr(err['input']))})" if not isinstance(err.get("input"), dict) else ""  # fmt: skip
        raise ConfigError(f"{source}: {field}: {err['msg']}{got}") from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`a.b.c=value` sets a nested key; the value is parsed as YAML (numbers, lists...).
    The data and each value are bounded (data_limits.py) before anything copies them."""
    check_tree(data, "scenario")
    result = _deep_copy(data)
    for item in overrides:
        key, sep, text = item.partition("=")
        where = f"--set {short(item)!r}"
        if not sep or not key:
            raise ConfigError(f"{where}: expected key.path=value")
        if len(key) > MAX_KEY_CHARS:
            raise ConfigError(f"{where}: the key has {len(key)} characters; at most {MAX_KEY_CHARS}")  # fmt: skip
        node = result
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = (
                    {} if child is None else {"kind": child} if isinstance(child, str) else child
                )
                if not isinstance(child, dict):
                    raise ConfigError(f"{where}: {part!r} is not a mapping")
                node[part] = child
            node = child
        node[parts[-1]] = _override_value(text, where)
    return result


def _override_value(text: str, where: str) -> Any:
    try:
        value = load_yaml(text)
    except (yaml.YAMLError, ValueError):  # ValueError: an integer of over 4300 digits
        raise ConfigError(f"{where}: the value is not valid YAML; quote it or fix the syntax") from None  # fmt: skip
    except RecursionError:
        raise ConfigError(f"{where}: the value is nested too deeply") from None
    check_tree(value, where)
    return value


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
