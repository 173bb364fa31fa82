"""NeuPIMs' sub-batch interleaving: the (N-1) T_partial + T_block formula by hand, the split,
and the row-buffer difference between neupims and npu+pim."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.errors import ConfigError
from llmemu.core.interleave import halve, interleaved_s
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


def test_formula_on_a_symmetric_example():
    """4 layers, each sub-batch 3 ms of NPU GEMMs and 2 ms of PIM attention:
    T_block = 3 + 2 + 3 + 2 = 10, T_partial = max(3, 2) + max(3, 2) = 6,
    total = (4 - 1) * 6 + 10 = 28 ms, against 4 * 10 = 40 ms serialised."""
    assert interleaved_s(4, (3.0, 3.0), (2.0, 2.0)) == pytest.approx(28.0)
    assert interleaved_s(4, (3.0, 3.0), (2.0, 2.0), overlap=False) == pytest.approx(40.0)


def test_formula_pairs_each_gemm_with_the_other_sub_batch_attention():
    """G = (4, 2), M = (1, 3): A's GEMMs run beside B's attention and B's beside A's, so
    T_partial = max(4, 3) + max(2, 1) = 6; T_block = 10; 3 layers: 2 * 6 + 10 = 22."""
    assert interleaved_s(3, (4.0, 2.0), (1.0, 3.0)) == pytest.approx(22.0)


def test_halve_splits_decodes_context_and_chunks():
    batch = BatchShape(((100, 0), (50, 20), (30, 0)), 5, 1000, 6)
    a, b = halve(batch)
    assert a == BatchShape(((100, 0), (30, 0)), 3, 600, 3)
    assert b == BatchShape(((50, 20),), 2, 400, 3)


def _iteration_s(system: str, sub_batches: int, batch: BatchShape) -> float:
    policy = PolicySpec(
        routing="pim-attention", batching="sub-batch-interleave", sub_batches=sub_batches
    )
    replica = build_replica(load_model("gpt3-7b"), load_system(system), policy)
    return replica.engine.pricer.price(batch).duration_s


DECODE = BatchShape(num_decode=512, decode_context=512 * 1024, num_logits=512)


def test_single_row_buffer_runs_the_sub_batches_one_after_the_other():
    """npu+pim takes turns: two interleaved sub-batches of 256 cost exactly the two
    sub-batches priced on their own, one after the other."""
    half = BatchShape(num_decode=256, decode_context=256 * 1024, num_logits=256)
    alone = _iteration_s("npu+pim-4", 1, half)
    assert _iteration_s("npu+pim-4", 2, DECODE) == pytest.approx(2 * alone)


def test_dual_row_buffers_hide_attention_under_gemms():
    """With dual row buffers the two sub-batches overlap: faster than the naive baseline
    taking turns, never faster than the NPU's own work, and the gain is at most the naive
    baseline's whole PIM time (its PIM is also slower: newton-pim's commands)."""
    turns = _iteration_s("npu+pim-4", 2, DECODE)
    interleaved = _iteration_s("neupims-4", 2, DECODE)
    assert interleaved < turns
    policy = PolicySpec(routing="pim-attention", batching="sub-batch-interleave", sub_batches=2)
    naive = build_replica(load_model("gpt3-7b"), load_system("npu+pim-4"), policy)
    work = naive.engine.pricer.price(DECODE).work
    assert turns - interleaved <= work["pim"].busy_s + 1e-12
    assert interleaved >= work["npu"].busy_s - 1e-12


def test_more_than_two_sub_batches_is_an_error():
    with pytest.raises(ConfigError, match="policy.sub_batches=3"):
        _iteration_s("neupims-4", 3, DECODE)
