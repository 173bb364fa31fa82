"""Assemble one replica's engine from specs: memory budget, KV cache, scheduler, pricing."""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.batching import Parts, check_settings, get_batching
from llmemu.core.collectives import get_allreduce
from llmemu.core.cost import Pricer
from llmemu.core.edge.budget import edge_memory_budget
from llmemu.core.engine import Engine
from llmemu.core.errors import CapacityError
from llmemu.core.kvcache import KVCache
from llmemu.core.pricing import ExpertRouting
from llmemu.core.routing import get_router
from llmemu.core.scenario import PolicySpec
from llmemu.core.scheduler import Scheduler
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


MEMORY_BUDGETS = {"edge": edge_memory_budget}
"""Batching policies that keep something other than all weights resident (edge: a window
of blocks per node); every other policy uses `memory_budget`."""


@dataclass
class Replica:
    model: ModelSpec
    system: SystemSpec
    policy: PolicySpec
    memory: MemoryBudget
    engine: Engine


def build_replica(
    model: ModelSpec,
    system: SystemSpec,
    policy: PolicySpec,
    *,
    seed: int = 0,
    ideal: bool = False,
    keep_plan: bool = False,
) -> Replica:
    check_settings(policy)
    memory = MEMORY_BUDGETS.get(policy.batching, memory_budget)(model, system, policy)
    num_blocks = int(memory.kv_bytes // (memory.kv_bytes_per_token * policy.block_size))
    kv = KVCache(num_blocks, policy.block_size)
    scheduler = Scheduler(
        kv,
        max_num_seqs=policy.max_num_seqs,
        max_num_batched_tokens=policy.max_num_batched_tokens,
        admission=policy.admission,
    )
    pricer = Pricer(
        system, model.dtype_bytes, allreduce=get_allreduce(policy.allreduce), ideal=ideal
    )
    parts = Parts(
        model,
        policy,
        pricer,
        get_router(policy.routing),
        ExpertRouting(model, policy.expert_routing, seed),
    )
    plan_pricer = get_batching(policy.batching)(parts)
    plan_pricer.keep_plan = keep_plan
    engine = Engine(
        scheduler, plan_pricer, max_fused_iterations=(1 << 30) if policy.fuse_iterations else 1
    )
    return Replica(model, system, policy, memory, engine)
