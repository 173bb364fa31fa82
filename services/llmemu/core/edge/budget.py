"""The memory budget of an edge replica: what each node keeps resident, KV room, or OOM."""

from __future__ import annotations

from llmemu.core.edge.memory import NodeMemory, node_memory
from llmemu.core.edge.pricer import edge_nodes
from llmemu.core.memory import MemoryBudget
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.model import ModelSpec, kv_bytes_per_token
from llmemu.core.specs.system import SystemSpec


def nodes_memory(model: ModelSpec, system: SystemSpec, policy: PolicySpec) -> list[NodeMemory]:
    nodes = edge_nodes(system, model.dtype_bytes)
    return [node_memory(model, policy, n, master=i == 0) for i, n in enumerate(nodes)]


def kv_tokens(nodes: list[NodeMemory]) -> float:
    """Tokens of KV cache that fit on every node after its other needs (0: OOM)."""
    room = [(n.capacity_bytes - n.need_bytes()) / n.kv_bytes_per_token for n in nodes]
    return max(0.0, min(room))


def edge_memory_budget(model: ModelSpec, system: SystemSpec, policy: PolicySpec) -> MemoryBudget:
    """Never raises for lack of memory: a node that does not fit leaves no KV cache, so the
    simulation rejects every request and the `edge` results say which node is OOM."""
    nodes = nodes_memory(model, system, policy)
    per_token = kv_bytes_per_token(model)
    tokens = kv_tokens(nodes)
    if tokens < policy.block_size:
        tokens = 0.0
    return MemoryBudget(
        capacity_bytes=sum(n.capacity_bytes for n in nodes),
        weight_bytes=sum(n.weights_bytes for n in nodes),
        activation_bytes=sum(n.activation_bytes for n in nodes),
        kv_bytes=tokens * per_token,
        kv_bytes_per_token=per_token,
    )
