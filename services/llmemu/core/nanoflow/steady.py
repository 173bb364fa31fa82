"""The batch an offline run settles into, for searching a pipeline before running.

With every request queued and decodes served first, each iteration is a full dense batch
of B tokens. A request computes I prompt tokens and O - 1 decode steps (its first token
comes with its prefill), so in steady state a share (O - 1) / (I + O - 1) of the batch is
decodes, attending on average over I + O / 2 tokens, and the rest is fresh prompt chunks.
"""

from __future__ import annotations

from llmemu.core.ops import BatchShape


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
