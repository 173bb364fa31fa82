"""Pricing by parts on one processor: the same prices as planning the whole iteration.

`PricedByParts` adds the op prices of three parts (the token-count ops, the LM head, the
attention ops) where `PlanPricer.price_exactly` plans, routes and times the whole iteration;
the two must agree to rounding in duration and in every counter of the work, for prompt
chunks with and without cached prefixes, decodes, mixed batches, tensor parallelism and
MoE models with experts spread evenly."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.ops import BatchShape
from llmemu.core.price_memo import PricedByParts
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model

BATCHES = [
    BatchShape(num_decode=1, decode_context=17, num_logits=1),
    BatchShape(num_decode=200, decode_context=200 * 900, num_logits=200),
    BatchShape(((512, 0),), 0, 0, 1),
    BatchShape(((300, 1024), (77, 0)), 0, 0, 1),  # a cached prefix; a chunk that does not sample
    BatchShape(((2048, 0),), 64, 64 * 3000, 65),
]


def pricers(model: str, system: str):
    replica = build_replica(load_model(model), load_system(system), PolicySpec())
    plan_pricer = replica.engine.pricer
    assert isinstance(plan_pricer.memo, PricedByParts)  # continuous on one processor
    return plan_pricer.memo, plan_pricer.price_exactly


def same(got, want) -> None:
    assert got.duration_s == pytest.approx(want.duration_s, rel=1e-12)
    assert got.work.keys() == want.work.keys()
    for name, w in want.work.items():
        g = got.work[name]
        for field in ("busy_s", "flops", "bytes", "write_bytes"):
            assert getattr(g, field) == pytest.approx(getattr(w, field), rel=1e-12), field
        assert g.ops_by_kind == w.ops_by_kind
        assert g.seconds == w.seconds


@pytest.mark.parametrize(
    ("model", "system"),
    [("llama-3-8b", "h100x1"), ("llama-2-70b", "a100x8"), ("mixtral-8x7b", "h100x8")],
)
def test_parts_price_the_iteration_as_the_whole_plan_does(model, system):
    memo, exact = pricers(model, system)
    for batch in BATCHES:
        same(memo.price(batch, exact), exact(batch))


def test_token_parts_are_priced_once_per_token_count():
    memo, exact = pricers("llama-3-8b", "h100x1")
    a = memo.price(BatchShape(num_decode=8, decode_context=800, num_logits=8), exact)
    b = memo.price(BatchShape(num_decode=8, decode_context=900, num_logits=8), exact)
    assert a.terms[0][0] is b.terms[0][0] and a.terms[1][0] is b.terms[1][0]
    assert b.duration_s > a.duration_s  # 100 more context tokens to read


def test_sampled_expert_routing_is_priced_whole():
    memo, _ = pricers("mixtral-8x7b", "h100x8")
    routed = BatchShape(
        num_decode=2, decode_context=20, num_logits=2, expert_tokens=(4,) + (0,) * 7
    )
    seen = []
    memo.price(routed, lambda b: seen.append(b) or "whole")
    assert seen == [routed]
