"""Prompt content as segments, and the chained hashes of its KV blocks.

A prompt is a sequence of segments `(segment_id, tokens)`: equal ids are equal text (a
Mooncake 512-token block, a shared system prompt, one turn of a conversation). A KV block's
key hashes its parent's key with the pieces of segments it covers, so two prompts share
block j exactly when their first (j + 1) * block_size tokens are the same, as vLLM's chained
block hash does with token ids. Only full blocks get a key (vLLM caches full blocks only).
"""

from __future__ import annotations

from collections.abc import Sequence

Segments = tuple[tuple[int, int], ...]


def block_hashes(segments: Segments, block_size: int, prompt_tokens: int) -> tuple[int, ...]:
    """Keys of the full blocks among the first `prompt_tokens` tokens."""
    keys: list[int] = []
    parent = 0
    pieces: list[tuple[int, int, int]] = []
    filled = 0
    budget = prompt_tokens
    for seg, length in segments:
        offset = 0
        length = min(length, budget)
        budget -= length
        while offset < length:
            if not filled and length - offset >= block_size:
                # A whole block inside one segment (the common case): no piece list.
                parent = hash((parent, seg, offset, block_size))
                keys.append(parent)
                offset += block_size
                continue
            take = min(block_size - filled, length - offset)
            pieces.append((seg, offset, take))
            filled += take
            offset += take
            if filled == block_size:
                parent = hash((parent, *pieces))  # pieces: (segment, offset, tokens)
                keys.append(parent)
                pieces.clear()
                filled = 0
        if budget <= 0:
            break
    return tuple(keys)


def token_block_hashes(token_ids: Sequence[int], block_size: int) -> tuple[int, ...]:
    """Keys of a real prompt's full blocks, chained over its token ids (the live server)."""
    keys: list[int] = []
    parent = 0
    for start in range(0, len(token_ids) - block_size + 1, block_size):
        parent = hash((parent, *token_ids[start : start + block_size]))
        keys.append(parent)
    return tuple(keys)


def mooncake_segments(hash_ids: Sequence[int], input_length: int, block_tokens: int) -> Segments:
    """A Mooncake prompt: one segment per `hash_ids` entry (block_tokens each, the last one
    what remains); tokens beyond the listed blocks are text of this prompt alone."""
    segments = []
    left = input_length
    for hid in hash_ids:
        if left <= 0:
            break
        take = min(block_tokens, left)
        segments.append((int(hid), take))
        left -= take
    return tuple(segments)
