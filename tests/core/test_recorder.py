"""The recorder totals work from weighted terms without merging dicts every step."""

from __future__ import annotations

import pytest

from llmemu.core.pricing import IterationCost, ProcessorWork
from llmemu.core.simulate import Recorder


def leaf(busy: float, flops: float, kind: str) -> IterationCost:
    return IterationCost(busy, {"gpu": ProcessorWork(busy, flops, 0.0, 0.0, {kind: 1.0})})


def test_weighted_terms_add_up_like_their_sum():
    a, b = leaf(1.0, 2.0, "qkv"), leaf(4.0, 3.0, "attn_decode")
    step = IterationCost(8.5, None, None, ((a, 0.5), (b, 2.0)))  # 0.5 a + 2 b
    fused = IterationCost(0.0, None, None, ((step, 2.0), (a, 1.0)))  # 2 steps, then a
    assert fused.work["gpu"].flops == 2 * (0.5 * 2 + 2 * 3) + 2  # 16
    rec = Recorder()
    busy = rec.add_cost(fused)
    assert busy == {"gpu": pytest.approx(2 * (0.5 * 1 + 2 * 4) + 1)}  # 18 s
    rec.add_cost(a)
    work = rec.work["gpu"]
    assert (work.busy_s, work.flops) == (19.0, 18.0)
    assert work.ops_by_kind == {"qkv": 3.0, "attn_decode": 4.0}  # a: 1 + 1 + 1; b: 2 x 2


def test_one_off_costs_are_folded_in_batches_and_none_is_lost():
    rec = Recorder()
    for k in range(10_000):
        rec.add_cost(leaf(1.0, float(k), "qkv"))
        assert len(rec._pending) <= 4097
    assert rec.work["gpu"].flops == sum(range(10_000))
    assert rec.work["gpu"].busy_s == 10_000.0
