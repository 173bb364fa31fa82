"""What explain prints per memory channel of a NeuPIMs device (core/channel_time.py)."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.channel_time import channel_time
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


def _channels(system: str, batch: BatchShape, sub_batches: int = 1):
    policy = PolicySpec(
        routing="pim-attention", batching="sub-batch-interleave", sub_batches=sub_batches
    )
    replica = build_replica(load_model("gpt3-7b"), load_system(system), policy)
    return channel_time(replica.engine.pricer, batch)


def test_the_naive_baseline_overlaps_nothing_and_waits_for_its_commands():
    """GPT-3 7B, TP 4, 64 requests of 306 tokens on npu+pim: 2 per channel, each 4,508 + 6,848
    cycles of commands (tests/reproduce/test_neupims_batches.py): 22,712 cycles a layer on every
    channel, 32 layers: 726.78 us; priced with the one-command-a-cycle feed, 112.86 us a layer:
    3.6115 ms. One row buffer: nothing overlaps."""
    batch = BatchShape(num_decode=64, decode_context=64 * 306, num_logits=64)
    c = _channels("npu+pim-4", batch)
    assert c.busiest_channel_s == pytest.approx(32 * 22_712e-9)
    assert c.mean_channel_s == pytest.approx(32 * 22_712e-9)
    assert c.pim_s == pytest.approx(32 * 112_860e-9)
    assert c.overlap_s == 0.0


def test_interleaved_sub_batches_overlap_npu_traffic_with_pim_commands():
    """neupims-4, 512 requests of 1,024 tokens in two sub-batches: the NPU's traffic and the
    PIM's commands share the channels for part of the iteration, never more than either."""
    batch = BatchShape(num_decode=512, decode_context=512 * 1024, num_logits=512)
    c = _channels("neupims-4", batch, sub_batches=2)
    assert 0.0 < c.overlap_s <= min(c.npu_memory_s, c.mean_channel_s)
    assert _channels("npu-only-4", batch) is None
