"""A plan after routing: every op on a processor, with its time per layer."""

from __future__ import annotations

from dataclasses import dataclass

from llmemu.core.ops import Op


@dataclass(frozen=True, slots=True)
class Placed:
    op: Op
    processor: str
    time_s: float
    """Seconds per layer on that processor."""


@dataclass(frozen=True, slots=True)
class PricedBlock:
    stages: tuple[tuple[Placed, ...], ...]
    repeat: int

    def placed(self):
        for stage in self.stages:
            yield from stage


@dataclass(frozen=True, slots=True)
class PricedPlan:
    blocks: tuple[PricedBlock, ...]
    tokens: int

    def placed_with_repeat(self):
        """(placed op, layers it runs in) for every op of the iteration."""
        for block in self.blocks:
            for placed in block.placed():
                yield placed, block.repeat
