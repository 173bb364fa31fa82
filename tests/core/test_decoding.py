"""Decoding requests in aggregate: counts, KV growth and completions by hand."""

from __future__ import annotations

from llmemu.core.decoding import DecodeSet
from llmemu.core.request import Request


def decoding(req_id: int, prompt: int, max_output: int) -> Request:
    """A request whose prompt is computed and whose first token is sampled."""
    req = Request(req_id, 0.0, prompt, max_output, generated=1, computed=prompt)
    req.admission_order = req_id
    return req


def test_sums_growth_and_completion_are_arithmetic():
    # Block size 4. A: prompt 5, holds 5 tokens, attends to 6; needs a block when it holds
    # a multiple of 4, i.e. 8 tokens, in the iteration T = 3. B: prompt 8, holds 8: needs
    # one at T = 0 (8) and T = 4 (12).
    d = DecodeSet(block_size=4)
    a, b = decoding(1, 5, 4), decoding(2, 8, 10)
    d.enter(a)
    d.enter(b)
    assert d.count == 2 and d.context == 6 + 9
    assert d.blocks_needed(0, 1) == 1  # B at T=0
    assert d.blocks_needed(0, 4) == 2  # B at 0, A at 3
    assert d.blocks_needed(0, 5) == 3  # and B at 4
    assert d.blocks_needed(0, 8 + 5) == 2 * 2 + 3  # two full cycles of 4, then 5 more
    # A generates 3 more tokens (to 4): done after 3 iterations; B after 9.
    assert d.remaining() == 3
    assert d.advance(2, end_s=1.0) == []
    assert d.context == 6 + 9 + 2 * 2
    assert d.advance(1, end_s=1.5) == [a]
    assert (a.computed, a.generated, a.num_blocks, a.last_token_s) == (8, 4, 2, 1.5)


def test_a_member_that_left_and_came_back_finishes_once():
    d = DecodeSet(block_size=16)
    a = decoding(1, 10, 3)
    d.enter(a)
    d.leave(a)  # preempted, say, and its counts written back
    assert (a.computed, a.generated, a.decode_offset) == (10, 1, None)
    d.enter(a)
    assert d.count == 1 and d.remaining() == 2
    assert d.advance(2, end_s=2.0) == [a]
