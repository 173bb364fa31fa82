"""The sliding-window timeline on hand-worked examples (times in seconds)."""

import pytest

from llmemu.core.edge.blocks import Block, Step
from llmemu.core.edge.window import run_window


def block(compute_s: float, load_s: float) -> Block:
    return Block("ffn", compute_s, weight_bytes=1.0, load_s=load_s)


def test_window_of_one_stalls_on_every_load():
    # One node, blocks b0 (compute 1, load 3) and b1 (compute 1, load 1), no collectives.
    # w = 1: a block loads only after the previous one is released (its compute ends).
    # Pass 1: b0 loads 0-3, computes 3-4; b1 loads 4-5, computes 5-6.
    # Pass 2 (steady state): b0 loads 6-9, computes 9-10; b1 loads 10-11, computes 11-12.
    # Iteration = 12 - 6 = 6 s, of which 3 + 1 = 4 s stalled on the disk.
    steps = [Step((block(1, 3),), 0.0), Step((block(1, 1),), 0.0)]
    duration, (node,) = run_window(steps, window=1)
    assert duration == pytest.approx(6.0)
    assert node.stall_s == pytest.approx(4.0)
    assert node.compute_s == pytest.approx(2.0)
    assert node.disk_s == pytest.approx(4.0)


def test_window_of_two_is_disk_bound():
    # Blocks b0 (compute 1, load 3), b1 and b2 (compute 1, load 1), w = 2: a block may load
    # once the block two before it is released. Pass 1: b0 loads 0-3, computes 3-4; b1
    # loads 3-4, computes 4-5; b2 (after b0's release at 4) loads 4-5, computes 5-6.
    # Pass 2: b0 (after b1's release at 5) loads 5-8, computes 8-9; b1 (b2 released at 6)
    # loads 8-9, computes 9-10; b2 (b0 released at 9) loads 9-10, computes 10-11.
    # Iteration = 11 - 6 = 5 s = the disk's 3 + 1 + 1 s; stalled 8 - 6 = 2 s.
    steps = [Step((block(1, 3),), 0.0), Step((block(1, 1),), 0.0), Step((block(1, 1),), 0.0)]
    duration, (node,) = run_window(steps, window=2)
    assert duration == pytest.approx(5.0)
    assert node.stall_s == pytest.approx(2.0)


def test_window_as_long_as_the_blocks_keeps_them_resident():
    # Two blocks and w = 2: nothing is ever released, so nothing reloads: 1 + 1 s.
    steps = [Step((block(1, 3),), 0.0), Step((block(1, 1),), 0.0)]
    duration, (node,) = run_window(steps, window=2)
    assert duration == pytest.approx(2.0)
    assert node.disk_s == 0.0


def test_loading_hidden_under_compute_and_allreduce():
    # Attention (compute 2, load 1) and FFN (compute 2, load 2), 1 s all-reduce after each,
    # w = 2. Every load fits under the previous block's compute + all-reduce (TPI-LLM's tight
    # condition: t_attn + t_ar = 3 >= tau_ffn = 2 and t_ffn + t_ar = 3 >= tau_attn = 1),
    # so two layers take 2 x ((2 + 1) + (2 + 1)) = 12 s with no stall, while the disk
    # works 2 x (1 + 2) = 6 s underneath.
    layer = [Step((block(2, 1),), 1.0), Step((block(2, 2),), 1.0)]
    duration, (node,) = run_window(layer * 2, window=2)
    assert duration == pytest.approx(12.0)
    assert node.stall_s == pytest.approx(0.0)
    assert node.disk_s == pytest.approx(6.0)
    assert node.communication_s == pytest.approx(4.0)


def test_collective_waits_for_the_slowest_node():
    # Two nodes, resident weights (w = 0): compute 1 s and 2 s, then a 0.5 s all-reduce.
    # The all-reduce starts at 2 s: iteration 2.5 s; the fast node waits 1 s at the barrier.
    steps = [Step((block(1, 9), block(2, 9)), 0.5)]
    duration, (fast, slow) = run_window(steps, window=0)
    assert duration == pytest.approx(2.5)
    assert fast.barrier_s == pytest.approx(1.0)
    assert slow.barrier_s == pytest.approx(0.0)
    assert fast.disk_s == 0.0
