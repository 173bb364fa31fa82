"""Prefix caching in the KV cache, driven as the scheduler drives it: admit, grow, free."""

from __future__ import annotations

import pytest

from llmemu.core.prefix_kv import PrefixKVCache
from llmemu.core.request import Request, Status


def _req(i: int, prompt: int, cache: PrefixKVCache, keys: tuple[int, ...]) -> Request:
    req = Request(i, 0.0, prompt, 4)
    cache.set_hashes(req, keys)
    return req


def _run(cache: PrefixKVCache, req: Request) -> None:
    """Admit, compute the whole prompt in one chunk, finish."""
    cache.admit(req)
    assert cache.try_grow(req, req.prompt_tokens)
    req.computed = req.prompt_tokens
    req.status = Status.FINISHED
    cache.free(req)


def test_a_repeated_prompt_hits_all_but_its_last_block():
    cache = PrefixKVCache(num_blocks=100, block_size=16)
    keys = tuple(range(1, 5))  # 64 tokens = 4 full blocks
    _run(cache, _req(0, 64, cache, keys))
    again = _req(1, 64, cache, keys)
    cache.admit(again)
    # (64 - 1) // 16 = 3 blocks may hit: the last token's block is computed again.
    assert again.computed == 48 and again.num_blocks == 3
    assert cache.free_blocks == 100 - 3
    assert cache.stats.query_tokens == 128 and cache.stats.hit_tokens == 48


def test_shared_blocks_count_once_and_return_when_the_last_holder_finishes():
    cache = PrefixKVCache(num_blocks=100, block_size=16)
    keys = tuple(range(1, 9))  # 128 tokens
    _run(cache, _req(0, 128, cache, keys))
    a, b = _req(1, 128, cache, keys), _req(2, 128, cache, keys)
    for r in (a, b):
        cache.admit(r)
        assert cache.try_grow(r, 128)
    # 7 shared blocks once, plus each request's own copy of block 8 (already cached
    # by request 0, so a and b keep theirs private): 7 + 1 + 1 = 9 in use.
    assert cache.used_blocks == 9
    for r in (a, b):
        r.computed = 128
        cache.free(r)
    assert cache.used_blocks == 0 and len(cache.index.free_lru) == 8


def test_free_cached_blocks_give_way_to_new_allocations_lru_first():
    cache = PrefixKVCache(num_blocks=4, block_size=16)
    _run(cache, _req(0, 32, cache, (1, 2)))
    _run(cache, _req(1, 32, cache, (3, 4)))
    # All 4 blocks free but cached; a 48-token prompt without hits needs 3 of them: the
    # cache keeps no more cached blocks than are free, dropping 1, 2 (oldest) and 3.
    fresh = _req(2, 48, cache, (7, 8, 9))
    cache.admit(fresh)
    assert cache.try_grow(fresh, 48)
    assert set(cache.index.refs) == {4, 7, 8, 9} and cache.free_blocks == 1


def test_a_host_tier_hit_is_copied_back_at_its_bandwidth():
    block_bytes = 16 * 131_072  # 16 tokens of Llama-3-8B KV
    cache = PrefixKVCache(
        num_blocks=4,
        block_size=16,
        host_blocks=8,
        host_bandwidth_bytes_per_s=32e9,
        block_bytes=block_bytes,
    )
    _run(cache, _req(0, 64, cache, (1, 2, 3, 4)))
    _run(cache, _req(1, 64, cache, (5, 6, 7, 8)))  # pushes 1..4 to the host
    again = _req(2, 64, cache, (1, 2, 3, 4))
    cache.admit(again)
    assert again.computed == 48 and cache.stats.offload_hit_tokens == 48
    # 3 blocks x 2,097,152 B = 6,291,456 B at 32 GB/s = 196.608 us.
    assert cache.take_load_s() == pytest.approx(6_291_456 / 32e9)
    assert cache.take_load_s() == 0.0
