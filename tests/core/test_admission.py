"""NanoFlow's admission rule (serve_8B.py check_future_page_usage) on hand-worked examples."""

from __future__ import annotations

import pytest

from llmemu.core.admission import projected_peak_blocks
from llmemu.core.errors import ConfigError
from llmemu.core.kvcache import KVCache
from llmemu.core.request import Request
from llmemu.core.scheduler import Scheduler


def two_running():
    # a: 8 prompt + 2 generated = 10 known of 12 (2 to go); b: 4 known of 12 (8 to go).
    a = Request(0, 0.0, prompt_tokens=8, max_output_tokens=4, generated=2)
    b = Request(1, 0.0, prompt_tokens=4, max_output_tokens=8)
    return [a, b]


def test_the_peak_is_just_before_a_request_finishes():
    # One token per iteration, k + 1 + t tokens at iteration t: a holds 11, 12 then frees;
    # b holds 5, 6, ..., 12. Sum: t=0 16, t=1 18, then b alone (7..12). Peak 18 tokens,
    # below the 24 both reach at their ends (what reserving every output would count).
    assert projected_peak_blocks(two_running(), block_size=1) == 18


def test_blocks_are_bounded_by_one_partly_filled_block_per_request():
    # At t=1, a's 12 tokens fill 3 blocks of 4 and b's 6 tokens 2: 5 exactly. The bound
    # adds block_size - 1 tokens per live request: (18 + 2 * 3) // 4 = 6.
    assert projected_peak_blocks(two_running(), block_size=4) == 6
    assert projected_peak_blocks([], block_size=4) == 0


def make(admission):
    return Scheduler(KVCache(10, 4), max_num_seqs=8, max_num_batched_tokens=64, admission=admission)


def run_to_end(sched):
    preemptions = 0
    for _ in range(100):
        s = sched.schedule()
        preemptions += len(s.preempted)
        for req, n in s.entries:
            req.computed += n
            if req.computed == req.known_tokens:
                req.generated += 1
                if req.generated == req.max_output_tokens:
                    sched.finish(req)
        if s.empty and not sched.waiting:
            return preemptions
    raise AssertionError("did not finish")


def three_requests(sched):
    reqs = [Request(i, 0.0, prompt_tokens=8, max_output_tokens=8) for i in range(3)]
    for req in reqs:
        sched.add(req)
    return reqs


def test_projected_peak_admits_only_what_the_pool_holds_to_the_end():
    # 10 blocks of 4 tokens; each request reaches 16 tokens = 4 blocks. First: peak 0 + 4
    # <= 10. Second: the first projects 8 + 8 = 16 tokens, (16 + 3) // 4 = 4; 4 + 4 <= 10.
    # Third: both project 2 * 8 + 2 * 8 = 32 tokens, (32 + 2 * 3) // 4 = 9; 9 + 4 > 10.
    sched = make("projected-peak")
    a, b, c = three_requests(sched)
    first = sched.schedule()
    assert [req for req, _ in first.entries] == [a, b]
    assert list(sched.waiting) == [c]
    assert run_to_end(sched) == 0


def test_greedy_admits_every_prompt_that_fits_and_preempts_later():
    # Greedy: 3 x 2 blocks for the prompts (6 <= 10). At 9 tokens each takes a 3rd block
    # (9 used); at 13 tokens all three need a 4th with 1 free: the newest is preempted.
    sched = make("greedy")
    three_requests(sched)
    assert len(sched.schedule().entries) == 3
    assert run_to_end(sched) >= 1


def test_greedy_is_the_default_and_unknown_names_are_refused():
    assert Scheduler(KVCache(1, 1), max_num_seqs=1, max_num_batched_tokens=1).admission == (
        "greedy"
    )
    with pytest.raises(ConfigError, match="policy.admission"):
        make("reserve-everything")
