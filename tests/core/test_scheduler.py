"""Continuous batching on hand-worked examples (vLLM v1 semantics)."""

from __future__ import annotations

from llmemu.core.kvcache import KVCache
from llmemu.core.request import Request, Status
from llmemu.core.scheduler import Scheduler


def make(num_blocks=100, block_size=16, seqs=8, budget=64):
    return Scheduler(
        KVCache(num_blocks, block_size), max_num_seqs=seqs, max_num_batched_tokens=budget
    )


def finish_iteration(sched, scheduled):
    """What the engine's update does to the token counts."""
    for req, n in scheduled.entries:
        req.computed += n
        if req.computed == req.known_tokens:
            req.generated += 1


def test_long_prompt_is_chunked_by_the_budget():
    sched = make(budget=64)
    req = Request(0, 0.0, prompt_tokens=150, max_output_tokens=4)
    sched.add(req)
    grants = []
    for _ in range(4):
        s = sched.schedule()
        grants.append(s.entries[0][1])
        finish_iteration(sched, s)
    # 150 = 64 + 64 + 22; then one decode token per iteration.
    assert grants == [64, 64, 22, 1]
    assert req.generated == 2


def test_running_requests_go_first_and_new_ones_fill_the_budget():
    sched = make(budget=64)
    old = Request(0, 0.0, 10, 10)
    sched.add(old)
    finish_iteration(sched, sched.schedule())  # prefilled: now decoding
    new = Request(1, 0.1, 100, 10)
    sched.add(new)
    s = sched.schedule()
    # the decode takes 1 token, the new prompt gets the other 63
    assert [(r.id, n) for r, n in s.entries] == [(0, 1), (1, 63)]


def test_sequence_cap_keeps_requests_waiting():
    sched = make(seqs=2, budget=1000)
    reqs = [Request(i, 0.0, 10, 5) for i in range(3)]
    for r in reqs:
        sched.add(r)
    s = sched.schedule()
    assert [r.id for r, _ in s.entries] == [0, 1]
    assert reqs[2].status is Status.WAITING


def test_kv_blocks_limit_admission():
    # 4 blocks of 16 tokens: a 40-token prompt needs 3, a second one cannot fit.
    sched = make(num_blocks=4, budget=1000)
    a, b = Request(0, 0.0, 40, 5), Request(1, 0.0, 40, 5)
    sched.add(a)
    sched.add(b)
    s = sched.schedule()
    assert [r.id for r, _ in s.entries] == [0]
    assert sched.kv.free_blocks == 1


def test_full_cache_preempts_the_newest_request_and_recomputes_it():
    # 4 blocks of 16: two requests with 32-token prompts fill the cache exactly.
    sched = make(num_blocks=4, budget=1000)
    a, b = Request(0, 0.0, 32, 50), Request(1, 0.0, 32, 50)
    sched.add(a)
    sched.add(b)
    finish_iteration(sched, sched.schedule())
    assert sched.kv.free_blocks == 0
    # Next iteration each needs a 3rd block for token 33: b is preempted so a can grow.
    s = sched.schedule()
    assert [r.id for r, _ in s.entries] == [0]
    assert s.preempted == (b,)
    assert b.status is Status.WAITING and b.computed == 0 and b.num_blocks == 0
    assert b.num_preemptions == 1
    # b has 32 prompt + 1 generated tokens to recompute when it comes back
    assert b.pending_tokens == 33
