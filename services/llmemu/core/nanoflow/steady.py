"""The batches an offline run settles into, for searching a pipeline before running.

`observed_batches` runs the scheduler itself on an endless queue of requests of the given
lengths and keeps what its iterations look like once the first request has finished: a
KV cache too small for a full dense batch, an admission rule that holds requests back
(NanoFlow's projected-peak rule does at 512/1024), or max_num_seqs all show up in the
mix, where a formula sees only full batches. `steady_batch` is that formula: with decodes
served first, every iteration a full dense batch of B tokens, a request computing I prompt
tokens and O - 1 decode steps, a share (O - 1) / (I + O - 1) of the batch is decodes
attending on average over I + O / 2 tokens, and the rest is fresh prompt chunks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from llmemu.core.engine import Engine
from llmemu.core.errors import ConfigError
from llmemu.core.ops import BatchShape

BatchMix = tuple[tuple[BatchShape, float], ...]
"""Representative batches, each with its share of the run's iterations (shares sum to 1)."""

BUCKET_TOKENS = 128
"""Iterations are grouped by their token count in steps of NanoFlow's granularity."""
MAX_BATCHES = 3
MAX_ITERATIONS = 2048
"""Enough for a few cohorts of NanoFlow's 512/1024 (2 lifetimes); longer outputs are cut."""
MIN_SHARE = 0.05
"""Groups with fewer of the iterations are left out (they would only slow the search)."""


def steady_batch(
    dense_tokens: int, mean_input: float, mean_output: float, max_num_seqs: int
) -> BatchShape:
    prompt = max(1, round(mean_input))
    steps = max(0.0, mean_output - 1)
    decodes = min(round(dense_tokens * steps / (prompt + steps)), max_num_seqs, dense_tokens)
    prefill = dense_tokens - decodes
    full, rest = divmod(prefill, prompt)
    chunks = ((prompt, 0),) * full + (((rest, 0),) if rest else ())
    return BatchShape(
        prefill_chunks=chunks,
        num_decode=decodes,
        decode_context=round(decodes * (prompt + mean_output / 2)),
        num_logits=decodes + full,
    )


def observed_batches(
    engine: Engine,
    input_tokens: int,
    output_tokens: int,
    *,
    iterations: int | None = None,
    max_batches: int = MAX_BATCHES,
) -> BatchMix:
    """The steady phase of an offline burst on `engine` (which this consumes): requests
    queued without end, iterations recorded from the first completion on, `iterations` of
    them (default: two request lifetimes, 2 x output tokens, within 256..MAX_ITERATIONS).
    The caller checks that one request fits the KV cache.

    Iterations are grouped by token count (BUCKET_TOKENS) and kind (decodes only, prompts
    only, mixed); the `max_batches` groups with the most iterations (at least MIN_SHARE of
    them) each give their iteration of median decode count, and the other groups' iterations
    count for the nearest kept group. A fused decode step stands for its middle iteration.
    For a burst the batches do not depend on how long iterations take, so any batching
    policy's engine gives the same mix."""
    wanted = iterations or min(max(256, 2 * output_tokens), MAX_ITERATIONS)
    max_steps = 10 * (wanted + output_tokens + 100)
    queue = engine.scheduler.max_num_seqs
    groups: dict[tuple[str, int], list[tuple[BatchShape, int]]] = defaultdict(list)
    seen, steps, now, finished = 0, 0, 0.0, False
    while seen < wanted:
        while len(engine.scheduler.waiting) < queue:
            engine.new_request(now, input_tokens, output_tokens)
        step = engine.step(now)
        steps += 1
        if step is None or steps > max_steps:
            raise ConfigError(
                f"requests of {input_tokens} + {output_tokens} tokens never settle into a "
                f"steady batch ({'none is admitted' if step is None else 'none finishes'} "
                f"in {steps} steps): give the replica more KV cache or shorter requests"
            )
        now += step.duration_s
        if finished:
            batch = _middle(step.batch, step.iterations)
            groups[_key(batch)].append((batch, step.iterations))
            seen += step.iterations
        finished = finished or bool(step.finished)
    counts = {key: sum(k for _, k in group) for key, group in groups.items()}
    ranked = sorted(counts, key=lambda key: -counts[key])[:max_batches]
    kept = [key for key in ranked if counts[key] >= MIN_SHARE * seen] or ranked[:1]
    weight = {key: 0 for key in kept}
    for key, count in counts.items():
        weight[min(kept, key=lambda k: (k[0] != key[0], abs(k[1] - key[1])))] += count
    return tuple((_median(groups[key]), weight[key] / seen) for key in kept)


def _key(batch: BatchShape) -> tuple[str, int]:
    if batch.num_decode == batch.num_tokens:
        kind = "decode"
    elif batch.num_decode == 0:
        kind = "prefill"
    else:
        kind = "mixed"
    return kind, -(-batch.num_tokens // BUCKET_TOKENS)


def _middle(batch: BatchShape, iterations: int) -> BatchShape:
    """The middle iteration of a fused decode run (each decode's context grows by one)."""
    if iterations <= 1:
        return batch
    grown = batch.num_decode * ((iterations - 1) // 2)
    return replace(batch, decode_context=batch.decode_context + grown)


def _median(group: list[tuple[BatchShape, int]]) -> BatchShape:
    """The batch of median decode count, each weighted by the iterations it stands for."""
    ordered = sorted(group, key=lambda entry: entry[0].num_decode)
    half, total = sum(k for _, k in ordered) / 2, 0
    for batch, k in ordered:
        total += k
        if total >= half:
            return batch
    return ordered[-1][0]
