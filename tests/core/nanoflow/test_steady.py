"""The batches an offline run settles into (steady.observed_batches)."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.nanoflow.steady import observed_batches
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


def engine(max_num_seqs: int, dense: int = 2048):
    policy = PolicySpec(max_num_batched_tokens=dense, max_num_seqs=max_num_seqs)
    return build_replica(load_model("llama-3-8b"), load_system("h100x1"), policy).engine


def test_a_sequence_cap_gives_a_prefill_iteration_and_decode_iterations():
    # 16 sequences at most, 64 prompt + 10 output tokens: the 16 running requests move in
    # lockstep. One iteration prefills all 16 prompts (1024 tokens, each gets its first
    # token), then 9 iterations decode 16 tokens, they finish together and the next 16 are
    # admitted. So 9 of every 10 iterations are 16 decodes and 1 is 16 x 64 prompt tokens.
    mix = observed_batches(engine(16), 64, 10, iterations=400)
    (decode, decode_share), (prefill, prefill_share) = mix
    assert (decode.num_decode, decode.num_tokens) == (16, 16)
    assert decode_share == pytest.approx(0.9, abs=0.01)
    assert (prefill.num_decode, prefill.prefill_chunks) == (0, ((64, 0),) * 16)
    assert prefill_share == pytest.approx(0.1, abs=0.01)
    # The decodes attend over 65 to 73 tokens across the 9 steps: the middle one, 69.
    assert decode.decode_context == 69 * 16


def test_a_full_dense_batch_is_one_batch_of_the_whole_run():
    # 1 output token: every request finishes with its prefill, so every iteration is 2048
    # prompt tokens (4 prompts of 512) and the mix is that one batch.
    mix = observed_batches(engine(256), 512, 1, iterations=50)
    assert len(mix) == 1
    batch, share = mix[0]
    assert batch.prefill_chunks == ((512, 0),) * 4 and share == 1.0


def test_prompt_only_and_decode_only_iterations_of_one_size_stay_apart():
    # 1 prompt token and 2 output tokens, 256 sequences: an iteration prefills 256 prompts
    # (each gets its first token), the next decodes the same 256 (second token, done).
    mix = dict((b.num_decode > 0, (b, share)) for b, share in observed_batches(engine(256), 1, 2))
    (decode, d_share), (prefill, p_share) = mix[True], mix[False]
    assert decode.num_decode == 256 and decode.decode_context == 256 * 2
    assert prefill.prefill_chunks == ((1, 0),) * 256
    assert d_share == pytest.approx(0.5, abs=0.01) and p_share == pytest.approx(0.5, abs=0.01)


def test_tune_rejects_a_request_larger_than_the_kv_cache():
    from llmemu.core.errors import ConfigError
    from llmemu.core.nanoflow.tune import tune

    model, system = load_model("llama-3-8b"), load_system("h100x1")
    policy = PolicySpec(batching="nanoflow", max_num_batched_tokens=2048)
    with pytest.raises(ConfigError, match="needs more KV cache than the replica holds"):
        tune(model, system, policy, 4_000_000, 10, max_evaluations=1)
