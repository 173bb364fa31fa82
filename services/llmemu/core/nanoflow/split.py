"""Cutting one scheduled batch into nano-batches of consecutive tokens.

Tokens are laid out as the scheduler grants them: decodes first (NanoFlow gives decode
priority), then the prefill chunks in order. A nano-batch [a, b) gets the decodes and the
parts of chunks that fall inside it; a chunk cut in two keeps its prefix, so the second
part attends over the first. Decode context is shared out in proportion (the batch only
carries its sum). No nano-batch samples logits: the LM head runs once on the whole batch.
"""

from __future__ import annotations

from llmemu.core.ops import BatchShape


def boundaries(sizes: tuple[int, ...]) -> list[tuple[int, int]]:
    out, start = [], 0
    for size in sizes:
        out.append((start, start + size))
        start += size
    return out


def nano_batch(batch: BatchShape, first: int, last: int) -> BatchShape:
    """The part of `batch` made of its tokens [first, last)."""
    nd = batch.num_decode
    decodes = max(0, min(last, nd) - first)
    context = 0
    if decodes:
        lo = max(first, 0)
        context = round(batch.decode_context * (lo + decodes) / nd) - round(
            batch.decode_context * lo / nd
        )
    chunks = []
    offset = nd
    for new, cached in batch.prefill_chunks:
        lo, hi = max(first, offset), min(last, offset + new)
        if hi > lo:
            chunks.append((hi - lo, cached + lo - offset))
        offset += new
    experts = None
    if batch.expert_tokens is not None and batch.num_tokens:
        frac = (last - first) / batch.num_tokens
        experts = tuple(round(c * frac) for c in batch.expert_tokens)
    return BatchShape(tuple(chunks), decodes, context, 0, experts)


def token_range(name: str, first: int, last: int, num_decode: int) -> tuple[int, int]:
    """Tokens an op of nano-batch [first, last) really touches: attention of decodes and
    of prefills each covers only its own part."""
    if name == "attn_decode":
        return first, min(last, num_decode)
    if name == "attn_prefill":
        return max(first, num_decode), last
    return first, last
