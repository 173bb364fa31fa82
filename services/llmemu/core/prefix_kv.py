"""A paged KV cache with prefix caching (PrefixIndex) behind KVCache's interface.

Block accounting: `free_blocks` counts blocks no request holds, cached ones included (they
are evictable). A request's `num_blocks` counts every block its tokens occupy, the shared
cached ones too (what `try_grow` compares against); `held[req]` lists the cached keys it
holds, so freeing returns only its private blocks directly and each shared one when its
last holder lets go.
"""

from __future__ import annotations

from llmemu.core.kvcache import KVCache
from llmemu.core.prefix_cache import PrefixIndex
from llmemu.core.request import Request


class PrefixKVCache(KVCache):
    def __init__(
        self,
        num_blocks: int,
        block_size: int,
        *,
        host_blocks: int = 0,
        host_bandwidth_bytes_per_s: float = 0.0,
        block_bytes: float = 0.0,
    ) -> None:
        super().__init__(num_blocks, block_size)
        self.index = PrefixIndex(block_size, host_blocks)
        self.hashes: dict[Request, tuple[int, ...]] = {}
        self.held: dict[Request, list[int]] = {}
        self.host_bandwidth = host_bandwidth_bytes_per_s
        self.block_bytes = block_bytes
        self._load_bytes = 0.0
        self._live_hashes = 1024

    @property
    def stats(self):
        return self.index.stats

    def set_hashes(self, req: Request, hashes: tuple[int, ...]) -> None:
        """Chained keys of the request's full blocks (prompt, and output where known).
        Kept until the request is done (a preempted one is admitted, and hits, again)."""
        if hashes:
            self.hashes[req] = hashes
            if len(self.hashes) > 2 * self._live_hashes:
                self.hashes = {r: h for r, h in self.hashes.items() if not r.done}
                self._live_hashes = max(1024, len(self.hashes))

    def admit(self, req: Request) -> None:
        """Before a waiting request's first chunk is sized: take its cached leading blocks,
        copying host-tier ones back into free device blocks (priced by take_load_s)."""
        if req.computed or req in self.held:
            return
        hashes = self.hashes.get(req, ())
        index = self.index
        index.evict_to(self.free_blocks)
        device, host = index.match(hashes, req.prompt_tokens) if hashes else (0, 0)
        keys = list(hashes[:device])
        for key in keys:
            if index.hold(key):
                self.free_blocks -= 1
        host = max(0, min(host, self.free_blocks))
        copied = 0
        for key in hashes[device : device + host]:
            if key in index.refs:  # also on the device, past a block that was not
                if index.hold(key):
                    self.free_blocks -= 1
            else:
                index.touch_host(key)
                index.insert(key)
                self.free_blocks -= 1
                copied += 1
            keys.append(key)
        index.evict_to(self.free_blocks)
        self.held[req] = keys
        req.num_blocks = len(keys)
        req.computed = len(keys) * self.block_size
        if req.first_scheduled_s is None:
            req.cached_tokens = req.computed
        stats = index.stats
        stats.query_tokens += req.prompt_tokens
        stats.hit_tokens += req.computed
        stats.offload_hit_tokens += copied * self.block_size
        self._load_bytes += copied * self.block_bytes
        self.note_usage()

    def try_grow(self, req: Request, tokens: int) -> bool:
        """As KVCache's; the full blocks of the tokens about to be computed are cached at
        once (vLLM caches at allocation), so a request admitted later in the same
        iteration may hit them."""
        if not super().try_grow(req, tokens):
            return False
        held = self.held.get(req)
        hashes = self.hashes.get(req)
        if held is not None and hashes:
            self._cache(req, held, hashes, tokens)
        self.index.evict_to(self.free_blocks)
        return True

    def _cache(self, req: Request, held: list[int], hashes: tuple[int, ...], tokens: int):
        refs = self.index.refs
        for key in hashes[len(held) : tokens // self.block_size]:
            if key in refs:
                break  # another request cached it first: this one keeps a private copy
            refs[key] = 1
            held.append(key)

    def take_load_s(self) -> float:
        """Seconds to copy this iteration's host-tier hits back (then reset)."""
        if not self._load_bytes:
            return 0.0
        seconds = self._load_bytes / self.host_bandwidth if self.host_bandwidth else 0.0
        self._load_bytes = 0.0
        return seconds

    def free(self, req: Request) -> None:
        """Cache the full blocks the request computed, then let go of everything it holds."""
        held = self.held.pop(req, [])
        hashes = self.hashes.get(req, ())
        index = self.index
        if hashes:
            self._cache(req, held, hashes, req.computed)
        self.free_blocks += req.num_blocks - len(held)
        req.num_blocks = 0
        self.free_blocks += index.release_all(held)
        index.evict_to(self.free_blocks)

    def cached_prefix_blocks(self, hashes: tuple[int, ...]) -> int:
        return self.index.cached_prefix_blocks(hashes)

    def prefix_stats(self) -> dict[str, float]:
        s = self.index.stats
        return {
            "query_tokens": s.query_tokens,
            "hit_tokens": s.hit_tokens,
            "offload_hit_tokens": s.offload_hit_tokens,
            "hit_ratio": s.hit_tokens / s.query_tokens if s.query_tokens else 0.0,
        }
