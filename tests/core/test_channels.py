"""PIM channel placement (NeuPIMs Algorithms 2 and 3) and the busiest channel's cost."""

from __future__ import annotations

import pytest

from llmemu.core.channels import busiest_share, greedy, round_robin, split_by_channel
from llmemu.core.interleave import halve
from llmemu.core.ops import BatchShape
from llmemu.reproduce.neupims_batches import Batch, throughput
from llmemu.reproduce.neupims_contexts import pool


def test_round_robin_deals_requests_in_turn():
    """Five requests of 5 tokens on 2 channels: 0, 1, 0, 1, 0; loads 15 and 10, so the busiest
    takes 15 x 2 / 25 = 1.2 times a perfectly balanced split."""
    placed = round_robin([5, 5, 5, 5, 5], 2, 0.0)
    assert placed == (0, 1, 0, 1, 0)
    assert busiest_share([5] * 5, placed, 2, 0.0) == pytest.approx(1.2)


def test_greedy_places_the_longest_first_on_the_least_loaded_channel():
    """Contexts 100, 10, 10, 10, 60 on 2 channels, no fixed work: 100 -> 0, 60 -> 1, then every
    10 -> 1 (70, 80, 90 < 100): loads 100 and 90, share 100 x 2 / 190 = 1.0526. Round-robin
    puts 100, 10 and 60 on channel 0: 170 x 2 / 190 = 1.7895."""
    contexts = [100, 10, 10, 10, 60]
    placed = greedy(contexts, 2, 0.0)
    assert placed == (0, 1, 1, 1, 1)
    assert busiest_share(contexts, placed, 2, 0.0) == pytest.approx(200 / 190)
    assert busiest_share(contexts, round_robin(contexts, 2, 0.0), 2, 0.0) == pytest.approx(
        340 / 190
    )


def test_greedy_counts_the_fixed_work_of_each_request():
    """Same contexts, 288 tokens of fixed work each: 100 -> 0 (388), 60 -> 1 (348), 10 -> 1
    (646), 10 -> 0 (686), 10 -> 1 (944): share 944 x 2 / 1630 = 1.1583."""
    contexts = [100, 10, 10, 10, 60]
    placed = greedy(contexts, 2, 288.0)
    assert placed == (0, 1, 0, 1, 1)
    assert busiest_share(contexts, placed, 2, 288.0) == pytest.approx(1888 / 1630)


def test_algorithm_3_halves_every_channel_alternating_odd_counts():
    """Channels 0: requests 0, 1, 2; 1: 3, 4, 5; 2: 6. Channel 0's odd request goes to A (2 + 1),
    channel 1's to B (1 + 2), channel 2's to A: A = 0, 1, 3, 6; B = 2, 4, 5."""
    assert split_by_channel((0, 0, 0, 1, 1, 1, 2)) == ([0, 1, 3, 6], [2, 4, 5])


def test_sub_batches_keep_their_requests_and_channels():
    """Channel 0 holds requests 0 and 1 (40, 30), channel 1 requests 2 and 3 (20, 10): A takes
    the first of each (40 + 20 = 60 tokens), B the second (30 + 10)."""
    batch = BatchShape(
        num_decode=4, decode_context=100, num_logits=4, decode_contexts=(40, 30, 20, 10)
    )
    a, b = halve(batch, (0, 0, 1, 1))
    assert (a.decode_contexts, a.decode_channels, a.decode_context) == ((40, 20), (0, 1), 60)
    assert (b.decode_contexts, b.decode_channels, b.num_decode, b.num_logits) == (
        (30, 10),
        (0, 1),
        2,
        2,
    )


def test_naive_npu_pim_feeds_the_channels_in_order():
    """GPT-3 7B, TP 4 (8 heads of 128 per device) on npu+pim: 33 requests of 100 tokens, dealt
    round-robin on 32 channels, put two on channel 0. Per request (newton-pim): K^T.q 2 x (124
    + 4 tiles x 213) = 1,952 cycles and 2 x (1 + 4 x 37) = 298 commands; s.V 8 x (124 + 4 x
    (143 + 2 x 8 - 2)) = 6,016 cycles and 8 x (1 + 4 x 9) = 296 commands. One command a cycle,
    channel 0 first: the last channel starts after 596 + 30 x 298 (K) and 592 + 30 x 296 (V)
    commands, so K takes 596 + 8,940 + 1,952 = 11,488 cycles and V 592 + 8,880 + 6,016 =
    15,488: 26,976 per layer. Without per-request contexts the 33 requests are spread as 33/32
    per channel: (31 x 298 + 1,952 + 31 x 296 + 6,016) x 33/32 = 27,206.44 cycles. The placed
    batch is 230.44 cycles a layer faster: 32 layers, 7.374 us."""
    common = {"model": "gpt3-7b", "system": "npu+pim-4", "routing": "pim-attention"}
    balanced = 33 / throughput(Batch(**common, batch=33, context=100.0))
    placed = 33 / throughput(Batch(**common, contexts=(100,) * 33))
    assert balanced - placed == pytest.approx(32 * 230.4375e-9, rel=1e-6)


def test_the_pools_are_the_authors_snapshots():
    """ShareGPT 512 + 512 + 64 requests, 333,400 tokens; Alpaca 512 + 512 + 128, 70,802."""
    assert (len(pool("sharegpt")), sum(pool("sharegpt"))) == (1_088, 333_400)
    assert (len(pool("alpaca")), sum(pool("alpaca"))) == (1_152, 70_802)
    assert max(pool("sharegpt")) == 2048
