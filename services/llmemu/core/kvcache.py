"""A paged KV cache, counted in blocks: which token lives in which block does not change
timing, so only counts are kept."""

from __future__ import annotations

from llmemu.core.request import Request


def blocks_for(tokens: int, block_size: int) -> int:
    return -(-tokens // block_size)


class KVCache:
    def __init__(self, num_blocks: int, block_size: int) -> None:
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.free_blocks = num_blocks
        self.peak_used_blocks = 0

    @property
    def capacity_tokens(self) -> int:
        """Tokens the cache holds when full: a request whose prompt and output together are
        longer can never finish here (its last iterations need more blocks than exist)."""
        return self.num_blocks * self.block_size

    @property
    def used_blocks(self) -> int:
        return self.num_blocks - self.free_blocks

    @property
    def usage(self) -> float:
        return self.used_blocks / self.num_blocks if self.num_blocks else 0.0

    def cached_prefix_blocks(self, hashes: tuple[int, ...]) -> int:
        """Leading blocks of a prompt this cache already holds: none without prefix caching
        (PrefixKVCache looks them up)."""
        return 0

    def extra_blocks(self, req: Request, tokens: int) -> int:
        """Blocks `req` still needs to hold `tokens` tokens."""
        return max(0, blocks_for(tokens, self.block_size) - req.num_blocks)

    def try_grow(self, req: Request, tokens: int) -> bool:
        """Give `req` room for `tokens` tokens; False (and nothing changed) if it does not fit."""
        extra = self.extra_blocks(req, tokens)
        if extra > self.free_blocks:
            return False
        self.free_blocks -= extra
        req.num_blocks += extra
        used = self.num_blocks - self.free_blocks
        if used > self.peak_used_blocks:
            self.peak_used_blocks = used
        return True

    def note_usage(self) -> None:
        """Record the peak after blocks were taken without try_grow (the scheduler's fast path)."""
        used = self.num_blocks - self.free_blocks
        if used > self.peak_used_blocks:
            self.peak_used_blocks = used

    def free(self, req: Request) -> None:
        self.free_blocks += req.num_blocks
        req.num_blocks = 0
