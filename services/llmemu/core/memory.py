"""A replica's memory budget: weights, activations, and what is left for the KV cache.

Its own module so that the edge policy's budget (edge/budget.py) and the replica that picks
between them can both import it without a circle."""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.errors import CapacityError
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.model import ModelSpec, kv_bytes_per_token, weight_bytes
from llmemu.core.specs.system import SystemSpec


@dataclass(frozen=True, slots=True)
class MemoryBudget:
    """Bytes of the whole replica (all TP devices)."""

    capacity_bytes: float
    weight_bytes: float
    activation_bytes: float
    kv_bytes: float
    kv_bytes_per_token: int

    @property
    def kv_tokens(self) -> float:
        """Tokens the KV cache holds (one request's prompt + output must fit in it)."""
        return self.kv_bytes / self.kv_bytes_per_token


def activation_bytes(model: ModelSpec, policy: PolicySpec) -> float:
    """Peak activations of one iteration: the widest intermediate of the token budget,
    twice (input and output live together), plus fp32 logits of every sequence."""
    widest = max(model.qkv_out, (model.ffn_matrices - 1) * model.ffn_size, model.hidden_size)
    tokens = policy.max_num_batched_tokens
    return 2.0 * tokens * widest * model.dtype_bytes + 4.0 * policy.max_num_seqs * model.vocab_size


def memory_budget(model: ModelSpec, system: SystemSpec, policy: PolicySpec) -> MemoryBudget:
    capacity = system.memory_capacity_bytes
    weights = float(weight_bytes(model))
    acts = activation_bytes(model, policy)
    kv = capacity - weights - acts
    per_token = kv_bytes_per_token(model)
    if kv < per_token * policy.block_size:
        raise CapacityError(
            f"model {model.name!r} needs {weights / 1e9:.1f} GB of weights + "
            f"{acts / 1e9:.1f} GB of activations but system {system.name!r} offers "
            f"{capacity / 1e9:.1f} GB ({system.memory_utilization:.0%} of its memory); "
            "choose a system with more or larger devices (e.g. a higher tensor_parallel)"
        )
    return MemoryBudget(capacity, weights, acts, kv, per_token)
