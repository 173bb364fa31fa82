"""Assemble one replica's engine from specs: memory budget, KV cache, scheduler, pricing."""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.batching import check_settings, get_batching
from llmemu.core.collectives import get_allreduce
from llmemu.core.cost import Pricer
from llmemu.core.engine import Engine
from llmemu.core.errors import ConfigError
from llmemu.core.host import load_engine, with_engine
from llmemu.core.kvcache import KVCache
from llmemu.core.memory import MemoryBudget, memory_budget
from llmemu.core.parts import Parts
from llmemu.core.prefix_kv import PrefixKVCache
from llmemu.core.pricing import ExpertRouting
from llmemu.core.registry import Deferred, resolve
from llmemu.core.routing import get_router
from llmemu.core.scenario import PolicySpec
from llmemu.core.scheduler import Scheduler
from llmemu.core.specs.model import ModelSpec
from llmemu.core.specs.system import SystemSpec

MEMORY_BUDGETS = {"edge": Deferred("llmemu.core.edge.budget", "edge_memory_budget")}
"""Batching policies that keep something other than all weights resident (edge: a window
of blocks per node); every other policy uses `memory_budget`."""


def make_kv_cache(num_blocks: int, memory: MemoryBudget, policy: PolicySpec) -> KVCache:
    """The plain paged cache, or one that caches prefixes (and offloads to the host)."""
    if not policy.prefix_caching:
        if policy.kv_offload is not None:
            raise ConfigError(
                "policy.kv_offload: a host tier keeps evicted prefix blocks; "
                "set policy.prefix_caching: true or drop kv_offload"
            )
        return KVCache(num_blocks, policy.block_size)
    block_bytes = memory.kv_bytes_per_token * policy.block_size
    offload = policy.kv_offload
    return PrefixKVCache(
        num_blocks,
        policy.block_size,
        host_blocks=int(offload.bytes // block_bytes) if offload else 0,
        host_bandwidth_bytes_per_s=offload.bandwidth_bytes_per_s if offload else 0.0,
        block_bytes=block_bytes,
    )


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
    memory = resolve(MEMORY_BUDGETS.get(policy.batching, memory_budget))(model, system, policy)
    num_blocks = int(memory.kv_bytes // (memory.kv_bytes_per_token * policy.block_size))
    kv = make_kv_cache(num_blocks, memory, policy)
    scheduler = Scheduler(
        kv,
        max_num_seqs=policy.max_num_seqs,
        max_num_batched_tokens=policy.max_num_batched_tokens,
        admission=policy.admission,
    )
    profile = load_engine(policy.engine)
    pricer = Pricer(
        system,
        model.dtype_bytes,
        allreduce=get_allreduce(policy.allreduce),
        ideal=ideal,
        sustained=profile.sustained_clocks,
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
    if not ideal:
        plan_pricer = with_engine(plan_pricer, profile)
    engine = Engine(
        scheduler, plan_pricer, max_fused_iterations=(1 << 30) if policy.fuse_iterations else 1
    )
    return Replica(model, system, policy, memory, engine)
