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


def test_shared_costs_wait_as_weights_and_one_off_costs_are_added_at_once():
    rec = Recorder()
    shared = IterationCost(2.0, {"gpu": ProcessorWork(2.0, 5.0)}, shared=True)
    for k in range(10_000):
        rec.add_cost(
            IterationCost(0.0, None, None, ((leaf(1.0, float(k), "qkv"), 1.0), (shared, 0.5)))
        )
        assert len(rec._pending) == 1  # the shared cost, with its summed weight
    assert rec._pending[id(shared)][1] == 5_000.0
    assert rec.work["gpu"].flops == sum(range(10_000)) + 5_000 * 5.0
    assert rec.work["gpu"].busy_s == 10_000 * 1.0 + 5_000 * 2.0
