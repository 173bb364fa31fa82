"""Placing decoding requests on PIM channels, and what the busiest channel costs.

A bank-PIM device keeps each request's KV cache in one of its memory channels (NeuPIMs: 32),
and each channel's PIM units compute attention only for the requests placed there, so one
iteration's PIM attention lasts as long as its most loaded channel (NeuPIMs §6.1). The load of
a request is NeuPIMs Algorithm 1's estimate in its linear form: context plus the device's fixed
work per request (`Efficiency.attention_request_tokens`), in tokens.

PLACEMENTS (a processor's `channel_placement`):
- `round-robin`: the i-th request on channel i mod C (NeuPIMs' naive NPU+PIM baseline, §8.1);
- `greedy`: Algorithm 2, longest first, each on the channel with the least load so far.
Algorithm 3 splits every channel's requests in two sub-batches (`split_by_channel`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence

Placement = Callable[[Sequence[int], int, float], tuple[int, ...]]


def round_robin(contexts: Sequence[int], channels: int, request_tokens: float) -> tuple[int, ...]:
    return tuple(i % channels for i in range(len(contexts)))


def greedy(contexts: Sequence[int], channels: int, request_tokens: float) -> tuple[int, ...]:
    """Algorithm 2: sort by length descending, each on the least loaded channel (ties: lowest)."""
    heap = [(0.0, c) for c in range(channels)]
    placed = [0] * len(contexts)
    for i in sorted(range(len(contexts)), key=lambda i: -contexts[i]):
        load, c = heapq.heappop(heap)
        placed[i] = c
        heapq.heappush(heap, (load + contexts[i] + request_tokens, c))
    return tuple(placed)


PLACEMENTS: dict[str, Placement] = {"round-robin": round_robin, "greedy": greedy}


def loads(
    contexts: Sequence[int], placed: Sequence[int], channels: int, request_tokens: float
) -> list[float]:
    """Tokens of work (context + fixed work per request) on each channel."""
    out = [0.0] * channels
    for ctx, c in zip(contexts, placed, strict=True):
        out[c] += ctx + request_tokens
    return out


def busiest_share(
    contexts: Sequence[int], placed: Sequence[int], channels: int, request_tokens: float
) -> float:
    """Busiest channel's load over the mean channel's: how much longer than a perfectly
    balanced placement the channels take (1.0 when balanced, `channels` when all on one)."""
    per_channel = loads(contexts, placed, channels, request_tokens)
    total = sum(per_channel)
    return max(per_channel) * channels / total if total else 1.0


def split_by_channel(placed: Sequence[int]) -> tuple[list[int], list[int]]:
    """Algorithm 3: each channel's requests halved, in order; an odd count gives its extra
    request to A and B in turn. Returns the request indices of sub-batches A and B."""
    by_channel: dict[int, list[int]] = {}
    for i, c in enumerate(placed):
        by_channel.setdefault(c, []).append(i)
    a: list[int] = []
    b: list[int] = []
    odd = 0
    for c in sorted(by_channel):
        reqs = by_channel[c]
        half = len(reqs) // 2
        if len(reqs) % 2:
            half += 1 - odd
            odd ^= 1
        a.extend(reqs[:half])
        b.extend(reqs[half:])
    return sorted(a), sorted(b)
