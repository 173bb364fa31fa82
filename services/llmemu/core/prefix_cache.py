"""Prefix caching over a paged KV cache, with vLLM's semantics, and an optional host tier.

A full block is keyed by a chained hash of its tokens (core/fleet/prompts.py). A request
holds its cached blocks by reference; a block nobody holds stays cached but counts as free,
and free cached blocks are reused least recently freed first, so blocks in use are never
evicted and a block shared by many requests is counted once. A request's hit is its
leading run of cached blocks, never its whole prompt: at least the last prompt token is
computed, to produce the first token's logits.

The host tier (vLLM CPU offload, LMCache, Mooncake Store) keeps blocks evicted from the
device, least recently used first; a hit there must be copied back at the tier's bandwidth.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class PrefixStats:
    query_tokens: int = 0
    """Prompt tokens looked up (every prompt token of every admitted request)."""
    hit_tokens: int = 0
    """Of those, tokens whose KV was found (device or host) and not computed."""
    offload_hit_tokens: int = 0
    """Of the hits, tokens copied back from the host tier."""


class PrefixIndex:
    """Which block keys the device and the host hold; counts, not token contents."""

    def __init__(self, block_size: int, host_blocks: int = 0) -> None:
        self.block_size = block_size
        self.refs: dict[int, int] = {}
        """Cached blocks on the device: key -> requests holding it (0: free, evictable)."""
        self.free_lru: OrderedDict[int, None] = OrderedDict()
        self.host: OrderedDict[int, None] = OrderedDict()
        self.host_blocks = host_blocks
        self.stats = PrefixStats()

    def match(self, hashes: tuple[int, ...], prompt_tokens: int) -> tuple[int, int]:
        """Leading blocks found on the device, then how many more follow on the host."""
        limit = min(len(hashes), (prompt_tokens - 1) // self.block_size)
        device = 0
        while device < limit and hashes[device] in self.refs:
            device += 1
        host = device
        while host < limit and hashes[host] in self.host:
            host += 1
        return device, host - device

    def hold(self, key: int) -> bool:
        """Take a reference on a cached device block; True if it was free (now in use)."""
        count = self.refs[key]
        self.refs[key] = count + 1
        if count == 0:
            del self.free_lru[key]
            return True
        return False

    def insert(self, key: int) -> bool:
        """Cache a block a request just filled, held by it; False if already cached."""
        if key in self.refs:
            return False
        self.refs[key] = 1
        return True

    def release_all(self, keys: list[int]) -> int:
        """Drop one reference on each key; how many blocks became free."""
        refs, lru = self.refs, self.free_lru
        freed = 0
        for key in keys:
            count = refs[key] - 1
            refs[key] = count
            if count == 0:
                lru[key] = None
                freed += 1
        return freed

    def evict_to(self, free_blocks: int) -> None:
        """Drop least recently freed blocks until no more are cached than are free."""
        excess = len(self.free_lru) - free_blocks
        if excess <= 0:
            return
        pop, refs, host = self.free_lru.popitem, self.refs, self.host
        keep = self.host_blocks
        for _ in range(excess):
            key = pop(last=False)[0]
            del refs[key]
            if keep:
                host.pop(key, None)  # re-entering: most recently used
                host[key] = None
        while len(host) > keep:
            host.popitem(last=False)

    def touch_host(self, key: int) -> None:
        self.host.move_to_end(key)

    def cached_prefix_blocks(self, hashes: tuple[int, ...]) -> int:
        """Leading blocks of `hashes` on the device or the host (what a router may ask)."""
        n = 0
        while n < len(hashes) and (hashes[n] in self.refs or hashes[n] in self.host):
            n += 1
        return n
