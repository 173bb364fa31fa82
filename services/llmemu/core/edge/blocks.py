"""One iteration on an edge cluster as TPI-LLM runs it: a sequence of steps, each a block of
weights that some nodes compute, followed by the collective that joins them.

Steps, in order (TPI-LLM's block order, `memory/mem_manager.py`): the master's input
embedding, then broadcast of the embedded tokens to the workers; for every layer an
attention block and an FFN block on every node, each followed by an all-reduce; then the
master's output block (final norm and LM head). A node's share p_i of every layer is its
share of heads and FFN columns, so its compute, weights and KV scale with p_i; the master
alone holds and computes the embedding and the head (privacy, §3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.cost import Rates
from llmemu.core.errors import ConfigError
from llmemu.core.ops import BatchShape, Op, OpKind
from llmemu.core.planner import gemm, plan_iteration
from llmemu.core.specs.device import DeviceSpec
from llmemu.core.specs.model import ModelSpec, attention_params, ffn_params


@dataclass(frozen=True, slots=True)
class Block:
    """One node's part of one step."""

    kind: str
    """input, attention, ffn or output."""
    compute_s: float
    weight_bytes: float
    """Resident bytes of the block's weights on this node."""
    load_s: float
    """Seconds to stream `weight_bytes` from this node's disk."""
    flops: float = 0.0
    bytes: float = 0.0


@dataclass(frozen=True, slots=True)
class Step:
    blocks: tuple[Block | None, ...]
    """Per node; None where the node has no part in this step."""
    sync_s: float
    """The collective after the step (all-reduce or broadcast); 0: none."""


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    device: DeviceSpec
    share: float
    rates: Rates


def op_time(op: Op, node: Node, share: float) -> float:
    compute = node.rates.compute_time(op) * share
    memory = op.bytes * share / node.rates.bytes_per_s
    return max(compute, memory) + node.rates.overhead_s


def block_weight_bytes(model: ModelSpec, kind: str, share: float) -> float:
    """Weights of one block on a node holding `share` of each layer; norms are replicated."""
    dt, h = model.dtype_bytes, model.hidden_size
    if kind == "attention":
        return (attention_params(model) * share + h) * dt
    if kind == "ffn":
        return (ffn_params(model) * share + h) * dt
    if kind == "input":
        return float(model.vocab_size * h * dt)
    return float((model.vocab_size * h + h) * dt)


def _block(kind: str, model: ModelSpec, node: Node, ops: list[Op], share: float) -> Block:
    disk = node.device.disk_bytes_per_s
    weights = block_weight_bytes(model, kind, share)
    return Block(
        kind=kind,
        compute_s=sum(op_time(op, node, share) for op in ops),
        weight_bytes=weights,
        load_s=weights / disk if disk else float("inf"),
        flops=sum(op.flops for op in ops) * share,
        bytes=sum(op.bytes for op in ops) * share,
    )


def layer_ops(model: ModelSpec, batch: BatchShape) -> tuple[list[Op], list[Op]]:
    """The attention and FFN ops of one layer, for the whole replica (planner at TP 1)."""
    if model.is_moe:
        raise ConfigError(
            f"model {model.name!r} is a mixture of experts; policy.batching 'edge' runs dense "
            "models (TPI-LLM's); choose a dense model or another batching policy"
        )
    stages = plan_iteration(model, batch, 1).blocks[0].stages
    ops = [op for stage in stages for op in stage]
    split = next(i for i, op in enumerate(ops) if op.name == "gate_up")
    return ops[:split], ops[split:]


def iteration_steps(
    model: ModelSpec,
    batch: BatchShape,
    nodes: tuple[Node, ...],
    allreduce_s: float,
    broadcast_s: float,
) -> list[Step]:
    """The steps of one iteration (layers repeat the same two steps)."""
    attention, ffn = layer_ops(model, batch)
    master = nodes[0]
    m, dt, h = batch.num_tokens, model.dtype_bytes, model.hidden_size
    lookup = Op("embedding", OpKind.GEMM, 0.0, float(m * h * dt))
    head = gemm("lm_head", batch.num_logits, h, model.vocab_size, dt)
    rest = (None,) * (len(nodes) - 1)
    first = Step((_block("input", model, master, [lookup], 1.0), *rest), broadcast_s)
    last = Step((_block("output", model, master, [head], 1.0), *rest), 0.0)
    attn = Step(
        tuple(_block("attention", model, n, attention, n.share) for n in nodes), allreduce_s
    )
    mlp = Step(tuple(_block("ffn", model, n, ffn, n.share) for n in nodes), allreduce_s)
    return [first] + [attn, mlp] * model.num_layers + [last]
