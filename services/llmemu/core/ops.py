"""Operations and iteration plans: what one iteration of a batch asks of the hardware.

An `Op` is one kernel of one layer for the whole replica (all tensor-parallel shards
together), so its FLOPs and bytes match the papers' whole-model tables once multiplied by
the block's repeat count. A `Block` is a run of identical layers; its `stages` run one
after another, and the ops of one stage are independent of each other (a timeline may run
them at once on different processors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class OpKind(StrEnum):
    """What bounds an operation and which efficiency prices it."""

    GEMM = "gemm"
    ATTENTION = "attention"
    COLLECTIVE = "collective"


# Operation names, in the order they appear in a layer.
OP_NAMES = (
    "qkv",
    "attn_prefill",
    "attn_decode",
    "o_proj",
    "router",
    "experts",
    "gate_up",
    "down",
    "allreduce",
    "lm_head",
)


@dataclass(slots=True, eq=False)
class Op:
    """One kernel of one layer, for the whole replica.

    Compared and hashed by identity: the planner hands out one shared object per GEMM shape,
    so prices can be memoised by op cheaply (hashing nine fields every lookup was not).
    Never changed once built (plans share ops); not frozen only because a frozen dataclass
    sets each field through object.__setattr__, which made building the per-iteration
    attention ops a seventh of the offline engine's time."""

    name: str
    kind: OpKind
    flops: float
    bytes: float
    net_bytes: float = 0.0
    write_bytes: float = 0.0
    """The part of `bytes` that is written (outputs, reduced chunks); the rest is read."""
    tokens: int = 0
    """GEMM rows (M); sets the shape-dependent compute efficiency."""
    payload_bytes: float = 0.0
    """Collectives: the tensor every device contributes."""
    expert_tokens: tuple[int, ...] = ()
    """Experts: tokens routed to each expert (the op is their grouped GEMM)."""
    weight_bytes: float = 0.0
    """Part of `bytes` that is weights (the rest scales with tokens); lets a router split an
    experts op into groups of experts without knowing the model."""
    context_tokens: int = 0
    """Decode attention: KV tokens its `tokens` requests attend to, summed (0 for other ops);
    lets a device charge fixed work per request (Efficiency.attention_request_tokens)."""
    request_contexts: tuple[int, ...] | None = None
    """Decode attention: each request's context, when the batch gives them (else None)."""
    request_channels: tuple[int, ...] | None = None
    """Decode attention: each request's memory channel, when already placed (else None)."""
    compute_bytes: int = 0
    """Element width of the op's arithmetic when it differs from the activations' (an FP8
    GEMM runs on FP8 tensor cores); 0: the activations' width."""

    @property
    def op_per_byte(self) -> float:
        return self.flops / self.bytes if self.bytes else float("inf")


@dataclass(frozen=True, slots=True)
class Block:
    """`repeat` identical layers; stages run in order, ops within a stage are independent."""

    stages: tuple[tuple[Op, ...], ...]
    repeat: int = 1

    def ops(self):
        for stage in self.stages:
            yield from stage


@dataclass(frozen=True, slots=True)
class Plan:
    """One iteration: the blocks of the model, in order."""

    blocks: tuple[Block, ...]
    tokens: int = 0
    """Tokens computed in this iteration (prefill chunks plus decodes)."""

    def ops(self):
        for block in self.blocks:
            yield from block.ops()


@dataclass(slots=True, unsafe_hash=True)
class BatchShape:
    """What the scheduler granted this iteration, as the planner needs it.

    Never changed once built (hashed by value, as a memo key); not frozen because a frozen
    dataclass sets each field through object.__setattr__, and the engine builds one or two
    per step."""

    prefill_chunks: tuple[tuple[int, int], ...] = ()
    """(new tokens, tokens already in the KV cache) per prefilling request."""
    num_decode: int = 0
    decode_context: int = 0
    """Sum over decoding requests of the tokens each attends to."""
    num_logits: int = 0
    """Requests that sample a token this iteration (decodes and finished prompts)."""
    expert_tokens: tuple[int, ...] | None = field(default=None)
    """Tokens per expert when the routing is known; None lets the planner spread them evenly."""
    decode_contexts: tuple[int, ...] | None = None
    """Each decoding request's context (summing to decode_context) where channel placement
    matters (NeuPIMs' PIM); None: only the sum is known, channels are taken as balanced."""
    decode_channels: tuple[int, ...] | None = None
    """The PIM channel of each of decode_contexts once placed (a sub-batch keeps its
    parent's placement, NeuPIMs Algorithm 3); None: the router places them."""

    @property
    def num_tokens(self) -> int:
        return self.num_decode + sum(c for c, _ in self.prefill_chunks)
