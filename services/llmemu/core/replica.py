"""Assemble one replica's engine from specs: memory budget, KV cache, scheduler, pricing."""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.batching import check_settings, get_batching
from llmemu.core.collectives import get_allreduce
from llmemu.core.cost import Pricer
from llmemu.core.edge.budget import edge_memory_budget
from llmemu.core.engine import Engine
from llmemu.core.host import load_engine, with_engine
from llmemu.core.kvcache import KVCache
from llmemu.core.memory import MemoryBudget, memory_budget
from llmemu.core.parts import Parts
from llmemu.core.pricing import ExpertRouting
from llmemu.core.routing import get_router
from llmemu.core.scenario import PolicySpec
from llmemu.core.scheduler import Scheduler
from llmemu.core.specs.model import ModelSpec
from llmemu.core.specs.system import SystemSpec

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
