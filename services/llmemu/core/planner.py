"""The planner: a batch becomes the operations of one iteration, with FLOPs and bytes.

Formulas follow NanoFlow Table 2 (whole-model GFLOP and GB of each kernel), which the tests
reproduce: a GEMM of m tokens by a k x n weight does 2mkn FLOPs and moves (mk + kn + mn)
elements; decode attention reads every cached K and V once and does 4 FLOPs per query head,
head dimension and context token; a ring all-reduce moves 2(N-1) times the payload.
"""

from __future__ import annotations

from functools import lru_cache

from llmemu.core.ops import BatchShape, Block, Op, OpKind, Plan
from llmemu.core.specs.model import ModelSpec


# GEMM and all-reduce ops depend on a handful of integers and recur every iteration with the
# same token count: caching them keeps planning cheap (they are frozen, so sharing is safe).
@lru_cache(maxsize=4096)
def gemm(name: str, m: int, k: int, n: int, dtype_bytes: int, weight_dtype_bytes: int = 0) -> Op:
    """m x k activations by a k x n weight. With narrower weights (FP8) the activations are
    quantised on the fly and the product runs at the weights' width; activations in and out
    of memory keep `dtype_bytes`."""
    w = weight_dtype_bytes or dtype_bytes
    return Op(
        name=name,
        kind=OpKind.GEMM,
        flops=2.0 * m * k * n,
        bytes=float((m * k + m * n) * dtype_bytes + k * n * w),
        write_bytes=float(m * n * dtype_bytes),
        tokens=m,
        weight_bytes=float(k * n * w),
        compute_bytes=w if w != dtype_bytes else 0,
    )


def attn_decode(model: ModelSpec, batch: BatchShape) -> Op:
    dt = model.dtype_bytes
    flops = 4.0 * model.q_size * batch.decode_context
    kv = 2.0 * model.kv_size * model.kv_width * batch.decode_context
    q_and_out = 2.0 * model.q_size * dt * batch.num_decode
    return Op(
        "attn_decode",
        OpKind.ATTENTION,
        flops,
        kv + q_and_out,
        write_bytes=q_and_out / 2,
        tokens=batch.num_decode,
        context_tokens=batch.decode_context,
        request_contexts=batch.decode_contexts,
        request_channels=batch.decode_channels,
    )


def attn_prefill(model: ModelSpec, batch: BatchShape) -> Op:
    """Causal attention of each chunk over its cached prefix and itself."""
    dt = model.dtype_bytes
    pairs = sum(c * p + c * (c + 1) / 2 for c, p in batch.prefill_chunks)
    kv_tokens = sum(c + p for c, p in batch.prefill_chunks)
    new = sum(c for c, _ in batch.prefill_chunks)
    flops = 4.0 * model.q_size * pairs
    moved = 2.0 * model.kv_size * model.kv_width * kv_tokens + 2.0 * model.q_size * dt * new
    written = float(model.q_size * dt * new)
    return Op("attn_prefill", OpKind.ATTENTION, flops, moved, write_bytes=written, tokens=new)


def allreduce(model: ModelSpec, m: int, tp: int) -> Op:
    """One all-reduce of the m x hidden activations; traffic as a ring moves it."""
    return _allreduce(model.hidden_size, model.comm_width, m, tp)


@lru_cache(maxsize=4096)
def _allreduce(hidden_size: int, dtype_bytes: int, m: int, tp: int) -> Op:
    payload = float(m * hidden_size * dtype_bytes)
    traffic = 2.0 * (tp - 1) * payload
    return Op(
        name="allreduce",
        kind=OpKind.COLLECTIVE,
        flops=float((tp - 1) * m * hidden_size),
        bytes=traffic,
        net_bytes=traffic,
        write_bytes=traffic / 2,  # each ring step reads a chunk and writes its sum
        tokens=m,
        payload_bytes=payload,
    )


def even_expert_tokens(model: ModelSpec, m: int) -> tuple[int, ...]:
    """m tokens each choose k experts, spread as evenly as integers allow."""
    total, experts = m * model.experts_per_token, model.num_experts
    base, extra = divmod(total, experts)
    return tuple(base + (1 if e < extra else 0) for e in range(experts))


def experts(model: ModelSpec, expert_tokens: tuple[int, ...]) -> Op:
    """The grouped GEMM of every expert's FFN; an expert with no tokens is not read."""
    dt, h, f, mats = model.dtype_bytes, model.hidden_size, model.ffn_size, model.ffn_matrices
    w = model.weight_width
    flops = sum(2.0 * mats * t * h * f for t in expert_tokens)
    weights = sum(mats * h * f for t in expert_tokens if t)
    acts = sum(t * (2 * h + (mats - 1) * f + f) for t in expert_tokens)
    written = sum(t * (h + (mats - 1) * f) for t in expert_tokens)
    return Op(
        name="experts",
        kind=OpKind.GEMM,
        flops=flops,
        bytes=float(weights * w + acts * dt),
        write_bytes=float(written * dt),
        tokens=max(expert_tokens, default=0),
        expert_tokens=expert_tokens,
        weight_bytes=float(weights * w),
        compute_bytes=w if w != dt else 0,
    )


@lru_cache(maxsize=4096)
def _alone(op: Op) -> tuple[Op]:
    """The one-op stage of a shared op, itself shared, so routers can memoise whole stages."""
    return (op,)


def _layer_ops(model: ModelSpec, m: int, tp: int, moe: bool, expert_tokens) -> list[Op]:
    """One layer's ops but attention, in the order they run (attention runs after the first)."""
    dt, w, h, f = model.dtype_bytes, model.weight_width, model.hidden_size, model.ffn_size
    ops = [gemm("qkv", m, h, model.qkv_out, dt, w), gemm("o_proj", m, model.q_size, h, dt, w)]
    if tp > 1:
        ops.append(allreduce(model, m, tp))
    if moe:
        routed = expert_tokens or even_expert_tokens(model, m)
        # The router stays 16-bit: FP8 checkpoints leave the gate unquantised.
        ops += [gemm("router", m, h, model.num_experts, dt), experts(model, routed)]
    else:
        ops += [
            gemm("gate_up", m, h, (model.ffn_matrices - 1) * f, dt, w),
            gemm("down", m, f, h, dt, w),
        ]
    if tp > 1:
        ops.append(allreduce(model, m, tp))
    return ops


def _blocks(model: ModelSpec) -> tuple[tuple[int, bool], ...]:
    """(layers, MoE?) of each block of identical layers."""
    return tuple(
        (layers, moe)
        for layers, moe in ((model.num_dense_layers, False), (model.num_moe_layers, True))
        if layers
    )


def plan_iteration(model: ModelSpec, batch: BatchShape, tensor_parallel: int = 1) -> Plan:
    """The operations of one iteration, grouped into blocks of identical layers."""
    m = batch.num_tokens
    attention = attention_ops(model, batch)
    blocks = []
    for layers, moe in _blocks(model):
        ops = _layer_ops(model, m, tensor_parallel, moe, batch.expert_tokens)
        # Every op its own stage; the experts op is the batch's own, the others are shared.
        stages = [(op,) if op.expert_tokens else _alone(op) for op in ops]
        stages.insert(1, attention)
        blocks.append(Block(tuple(stages), layers))
    if batch.num_logits:
        blocks.append(Block((_alone(lm_head(model, batch.num_logits)),), 1))
    return Plan(tuple(blocks), tokens=m)


def lm_head(model: ModelSpec, num_logits: int) -> Op:
    return gemm("lm_head", num_logits, model.hidden_size, model.vocab_size, model.dtype_bytes)


def token_ops(model: ModelSpec, m: int, tensor_parallel: int = 1) -> tuple[tuple[Op, int], ...]:
    """The ops of an iteration of m tokens that depend on nothing else (every op but
    attention and the LM head, with experts spread evenly), each with its layer count."""
    return tuple(
        (op, layers)
        for layers, moe in _blocks(model)
        for op in _layer_ops(model, m, tensor_parallel, moe, None)
    )


def attention_ops(model: ModelSpec, batch: BatchShape) -> tuple[Op, ...]:
    """The attention ops of one layer (every layer has the same)."""
    if not batch.prefill_chunks:
        return (attn_decode(model, batch),) if batch.num_decode else ()
    prefill = attn_prefill(model, batch)
    return (prefill, attn_decode(model, batch)) if batch.num_decode else (prefill,)
