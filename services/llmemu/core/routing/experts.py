"""The MoE experts op, cut by expert group and priced on the devices that hold each group.

The planner's experts op is the grouped GEMM of every expert over the whole replica, priced
as if every device held a slice of every expert (expert tensor parallelism). Duplex's base
design uses plain expert parallelism instead: whole experts live on single devices, so the
layer lasts as long as its busiest device. Both are layouts of `num_groups` groups of devices,
each holding the experts of its group sliced over its devices:
- plain EP: min(devices, experts) groups (Mixtral on 4 devices: 2 experts per device);
- ET (Duplex's +ET): one group per node, every device holding a slice of each of its experts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from llmemu.core.ops import Op

if TYPE_CHECKING:
    from llmemu.core.cost import Pricer

DEVICES_PER_NODE = 8
"""Duplex §VI: up to 8 devices share a node (NVLink); more devices add nodes."""


def expert_groups(num_devices: int, num_experts: int, *, sliced: bool) -> int:
    """Groups of devices that hold disjoint experts: plain EP, or ET inside a node (`sliced`)."""
    if sliced:
        return min(num_experts, math.ceil(num_devices / DEVICES_PER_NODE))
    return max(1, min(num_devices, num_experts))


def subset(op: Op, tokens: Sequence[int]) -> Op:
    """The experts op restricted to experts with these token counts (taken from op's).

    FLOPs and activation bytes scale with tokens; weight bytes with the experts that have
    any token (an expert nobody chose is not read)."""
    total = sum(op.expert_tokens)
    active = sum(1 for t in op.expert_tokens if t)
    sub_tokens = sum(tokens)
    sub_active = sum(1 for t in tokens if t)
    weights = op.weight_bytes * sub_active / active if active else 0.0
    acts = (op.bytes - op.weight_bytes) * sub_tokens / total if total else 0.0
    return Op(
        name=op.name,
        kind=op.kind,
        flops=op.flops * sub_tokens / total if total else 0.0,
        bytes=weights + acts,
        write_bytes=op.write_bytes * sub_tokens / total if total else 0.0,
        tokens=max(tokens, default=0),
        expert_tokens=tuple(tokens),
        weight_bytes=weights,
    )


def split_by_group(op: Op, num_groups: int) -> list[tuple[int, ...]]:
    """Token counts of each group's experts; experts are dealt out in contiguous runs."""
    counts = op.expert_tokens
    n = len(counts)
    return [counts[g * n // num_groups : (g + 1) * n // num_groups] for g in range(num_groups)]


def group_time(pricer: Pricer, op: Op, processor: str, num_groups: int) -> float:
    """Seconds for one group's devices (1/num_groups of the replica) to run `op` on `processor`.

    The pricer spreads an op over every device; a group has 1/num_groups of them, so the op
    is priced `num_groups` times as large."""
    if not op.expert_tokens or not any(op.expert_tokens):
        return 0.0
    if num_groups == 1:
        return pricer.time(op, processor)
    scaled = replace(
        op,
        flops=op.flops * num_groups,
        bytes=op.bytes * num_groups,
        weight_bytes=op.weight_bytes * num_groups,
    )
    return pricer.time(scaled, processor)


def layout_time(pricer: Pricer, op: Op, processor: str, num_groups: int) -> float:
    """Seconds until the busiest group has run its experts on `processor`."""
    if num_groups == 1:
        return pricer.time(op, processor)
    return max(
        group_time(pricer, subset(op, tokens), processor, num_groups)
        for tokens in split_by_group(op, num_groups)
    )
