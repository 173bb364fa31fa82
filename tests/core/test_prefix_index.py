"""The prefix index: leading-block matches, references, LRU eviction, the host tier."""

from __future__ import annotations

from llmemu.core.prefix_cache import PrefixIndex


def _fill(index: PrefixIndex, keys: list[int]) -> None:
    for k in keys:
        assert index.insert(k)


def test_match_stops_at_the_first_missing_block_and_leaves_the_last_token():
    index = PrefixIndex(block_size=16)
    _fill(index, [1, 2, 3])
    assert index.match((1, 2, 9, 3), prompt_tokens=100) == (2, 0)
    # 48 tokens = 3 full blocks, all cached: only (48 - 1) // 16 = 2 may be hits.
    assert index.match((1, 2, 3), prompt_tokens=48) == (2, 0)
    assert index.match((1, 2, 3), prompt_tokens=49) == (3, 0)


def test_blocks_in_use_are_never_evicted_and_free_ones_go_least_recent_first():
    index = PrefixIndex(block_size=16)
    _fill(index, [1, 2, 3])
    assert index.release_all([2, 1]) == 2
    index.evict_to(free_blocks=1)  # two free cached blocks, room for one: 2 was freed first
    assert set(index.refs) == {1, 3}
    index.evict_to(free_blocks=0)
    assert set(index.refs) == {3}  # held by a request: stays whatever the pressure


def test_a_held_free_block_leaves_the_free_list_and_shared_blocks_count_once():
    index = PrefixIndex(block_size=16)
    _fill(index, [7])
    index.release_all([7])
    assert index.hold(7) is True  # was free: the caller takes one block off the free count
    assert index.hold(7) is False  # already in use by the first holder: no new block
    assert index.refs[7] == 2 and not index.free_lru


def test_evicted_blocks_go_to_the_host_tier_in_lru_order():
    index = PrefixIndex(block_size=16, host_blocks=2)
    _fill(index, [1, 2, 3])
    index.release_all([1, 2, 3])
    index.evict_to(free_blocks=0)
    # 1, 2, 3 went to the host in that order; it holds 2, so 1 fell out.
    assert list(index.host) == [2, 3]
    assert index.match((2, 3, 4), prompt_tokens=100) == (0, 2)
    assert index.cached_prefix_blocks((2, 3, 4)) == 2
