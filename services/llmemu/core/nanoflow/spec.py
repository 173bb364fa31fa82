"""A NanoFlow pipeline: how the dense batch is cut into nano-batches and what share of the
device each operation gets, with the paper's LLaMA-2-70B pipeline as the default.

Sizes are token counts of the dense batch (`policy.max_num_batched_tokens`); a smaller
batch (the tail of a run) is cut at the same fractions. Every op uses the `nano_tokens`
partition unless `splits` gives it its own (NanoFlow cuts KQV and decode attention finer
than the rest); an op's nano-op on tokens [a, b) waits for the nano-ops of the previous
op that cover any of those tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmemu.core.errors import ConfigError
from llmemu.core.nanoflow.overlap import REST
from llmemu.core.ops import OP_NAMES

ORDERS = ("breadth", "depth")


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    dense_tokens: int
    nano_tokens: tuple[int, ...]
    """Default partition: tokens of each nano-batch, summing to `dense_tokens`."""
    splits: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """(op name, partition) for ops cut differently from `nano_tokens`."""
    shares: tuple[tuple[str, tuple[float, ...]], ...] = ()
    """(op name, R of each piece; one value applies to every piece). Unlisted ops, and
    ops given REST (0), take what the fixed shares beside them leave (overlap.REST)."""
    order: str = "breadth"
    """Which ready nano-op a free lane starts first: `breadth` (earlier op of the layer,
    then earlier nano-batch) or `depth` (earlier nano-batch, then earlier op)."""
    overlap: bool = True
    """False: every op holds the whole device (NanoFlow's "nano-batching only" ablation)."""

    def partition(self, name: str) -> tuple[int, ...]:
        return dict(self.splits).get(name, self.nano_tokens)

    def share(self, name: str, piece: int) -> float:
        if not self.overlap:
            return 1.0
        values = dict(self.shares).get(name)
        if values is None:
            return REST
        return values[min(piece, len(values) - 1)]


# NanoFlow's LLaMA-2-70B pipeline on 8 x A100 with a 2048-token dense batch. Sizes: the
# repository's deployed config (pipeline/config_all/llama2-70B/2048.json: nanobatch_1_size
# 640, kqv1_size 256, kqv3_size 768, so KQV pieces 256/384/768/640 and decode attention
# follows KQV). Shares of the memory- and network-bound ops: the paper's Fig. 6 (decode
# attention 0.4, network 0.1-0.2); the GEMMs take the rest (Fig. 6 gives them 0.4-0.9,
# the complements of what runs beside them in its own pipeline; docs/nanoflow.md).
PAPER_NANO = (640, 1408)
PAPER_KQV = (256, 384, 768, 640)
PAPER_SHARES: dict[str, tuple[float, ...]] = {"attn_decode": (0.4,), "allreduce": (0.1, 0.2)}
FIG6_GEMM_SHARES: dict[str, tuple[float, ...]] = {
    "qkv": (0.4,),
    "attn_prefill": (0.6,),
    "o_proj": (0.6, 0.8),
    "gate_up": (0.9,),
    "down": (0.9,),
}
"""Fig. 6's fixed GEMM shares, for comparison (`shares:` in policy.options)."""


def scale_sizes(sizes: tuple[int, ...], tokens: int) -> tuple[int, ...]:
    """Cut `tokens` at the same fractions as `sizes` (cumulative rounding, no empty piece)."""
    total, cum, last, out = sum(sizes), 0, 0, []
    for size in sizes:
        cum += size
        edge = round(cum * tokens / total)
        if edge > last:
            out.append(edge - last)
            last = edge
    return tuple(out)


def paper_pipeline(dense_tokens: int) -> PipelineSpec:
    kqv = scale_sizes(PAPER_KQV, dense_tokens)
    return PipelineSpec(
        dense_tokens,
        scale_sizes(PAPER_NANO, dense_tokens),
        tuple((name, kqv) for name in ("qkv", "attn_decode", "attn_prefill")),
        tuple(sorted(PAPER_SHARES.items())),
    )


def pipeline_from_options(dense_tokens: int, options: Mapping[str, Any]) -> PipelineSpec:
    """policy.options: nano_batches [tokens...], splits {op: [tokens...]}, shares {op: R,
    'rest' or [one per piece]}, order (breadth or depth), overlap (false: every share 1)."""
    base = paper_pipeline(dense_tokens)
    nano = options.get("nano_batches")
    nano = _sizes("policy.options.nano_batches", nano, dense_tokens) if nano else base.nano_tokens
    splits = dict(base.splits) if "nano_batches" not in options else {}
    for name, sizes in (options.get("splits") or {}).items():
        splits[_op(f"policy.options.splits.{name}", name)] = _sizes(
            f"policy.options.splits.{name}", sizes, dense_tokens
        )
    shares = dict(base.shares)
    for name, value in (options.get("shares") or {}).items():
        shares[_op(f"policy.options.shares.{name}", name)] = _shares(name, value)
    order = options.get("order", base.order)
    if order not in ORDERS:
        raise ConfigError(f"policy.options.order: {order!r} is not one of {', '.join(ORDERS)}")
    overlap = options.get("overlap", True)
    if not isinstance(overlap, bool):
        raise ConfigError(f"policy.options.overlap: {overlap!r} must be true or false")
    return PipelineSpec(
        dense_tokens, nano, tuple(splits.items()), tuple(sorted(shares.items())), order, overlap
    )


def _op(field: str, name: str) -> str:
    if name not in OP_NAMES:
        raise ConfigError(f"{field}: unknown op {name!r}; choose from {', '.join(OP_NAMES)}")
    return name


def _sizes(field: str, sizes: Any, dense_tokens: int) -> tuple[int, ...]:
    if not isinstance(sizes, list | tuple) or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ConfigError(f"{field}: expected a list of positive token counts, got {sizes!r}")
    if sum(sizes) != dense_tokens:
        raise ConfigError(
            f"{field}: {list(sizes)} sums to {sum(sizes)} tokens but the dense batch "
            f"(policy.max_num_batched_tokens) is {dense_tokens}; make them add up"
        )
    return tuple(sizes)


def _shares(name: str, value: Any) -> tuple[float, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    values = [REST if v == "rest" else v for v in values]
    if not values or not all(isinstance(v, int | float) and 0 <= v <= 1 for v in values):
        raise ConfigError(
            f"policy.options.shares.{name}: {value!r} is not a share in (0, 1] or 'rest' "
            "(or a list of them, one per piece)"
        )
    return tuple(float(v) for v in values)
