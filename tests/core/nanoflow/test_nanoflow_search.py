"""The search returns a valid pipeline; the policies and the optimal throughput."""

from __future__ import annotations

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.nanoflow.optimal import optimal_tokens_per_s_per_device
from llmemu.core.nanoflow.pipeline import time_pipeline
from llmemu.core.nanoflow.search import partitions, search_pipeline
from llmemu.core.nanoflow.spec import paper_pipeline
from llmemu.core.nanoflow.steady import steady_batch
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


def pricer_of(batching: str, **options):
    model, system = load_model("llama-2-70b"), load_system("a100x8-nvlink")
    policy = PolicySpec(
        batching=batching, max_num_batched_tokens=2048, max_num_seqs=2048, options=options
    )
    return model, build_replica(model, system, policy).engine.pricer


def test_partitions_are_multiples_of_128_summing_to_the_batch():
    cuts = partitions(512, max_pieces=3)
    # 512 = 4 units of 128: 3 two-piece cuts (C(3,1)) and 3 three-piece cuts (C(3,2)).
    assert len(cuts) == 6
    assert all(sum(c) == 512 and all(s % 128 == 0 for s in c) for c in cuts)


def test_steady_batch_of_512_512():
    # 2048 tokens; a request computes 512 prompt tokens and 511 decode steps, so
    # 2048 * 511 / 1023 = 1023 decodes (rounded), attending over 512 + 512/2 = 768 tokens.
    batch = steady_batch(2048, 512, 512, 2048)
    assert batch.num_decode == 1023
    assert batch.decode_context == 1023 * 768
    assert batch.prefill_chunks == ((512, 0), (512, 0), (1, 0))


def test_search_returns_a_valid_pipeline_no_slower_than_the_paper_s():
    model, pricer = pricer_of("sequential")
    batch = steady_batch(2048, 512, 512, 2048)
    found = search_pipeline(
        model, ((batch, 1.0),), 2048, pricer.pricer, pricer.router, max_evaluations=40
    )
    spec = found.spec
    assert sum(spec.nano_tokens) == 2048 and all(s % 128 == 0 for s in spec.nano_tokens)
    assert all(sum(sizes) == 2048 for _, sizes in spec.splits)
    assert all(0 <= r <= 1 for _, values in spec.shares for r in values)
    paper = time_pipeline(model, batch, paper_pipeline(2048), pricer.pricer, pricer.router)
    assert found.iteration_s <= paper.duration_s
    again = time_pipeline(model, batch, spec, pricer.pricer, pricer.router)
    assert again.duration_s == pytest.approx(found.iteration_s)


def test_search_on_a_mix_minimises_the_weighted_mean_iteration():
    # A full batch and a decode-only batch of 1200 (cut at the same fractions), weighted
    # 3:1: the result's time is 0.75 x the first's + 0.25 x the second's, all layers timed.
    model, pricer = pricer_of("sequential")
    full = steady_batch(2048, 512, 1024, 2048)
    decodes = BatchShape(num_decode=1200, decode_context=1200 * 1000, num_logits=1200)
    mix = ((full, 0.75), (decodes, 0.25))
    found = search_pipeline(model, mix, 2048, pricer.pricer, pricer.router, max_evaluations=30)
    each = [
        time_pipeline(model, b, found.spec, pricer.pricer, pricer.router).duration_s for b, _ in mix
    ]
    assert found.iteration_s == pytest.approx(0.75 * each[0] + 0.25 * each[1])
    with pytest.raises(ValueError, match="at least one batch"):
        search_pipeline(model, (), 2048, pricer.pricer, pricer.router)


def test_sequential_runs_op_after_op():
    model, pricer = pricer_of("sequential")
    cost = pricer.price(steady_batch(2048, 512, 512, 2048))
    assert cost.duration_s == pytest.approx(cost.work["a100"].busy_s)


def test_nanoflow_policy_overlaps_and_nano_batching_alone_does_not():
    batch = steady_batch(2048, 512, 512, 2048)
    sequential = pricer_of("sequential")[1].price(batch).duration_s
    overlapped = pricer_of("nanoflow")[1].price(batch)
    alone = pricer_of("nanoflow", overlap=False)[1].price(batch).duration_s
    assert overlapped.duration_s < sequential < alone
    # Busy time is share-seconds: overlapping ops never count the device twice.
    assert overlapped.work["a100"].busy_s <= overlapped.duration_s


def test_optimal_throughput_is_compute_over_twice_the_parameters():
    # Eq. 5 at NanoFlow's profiled 280 TFLOPS and LLaMA-2-70B's 68.98e9 parameters
    # (HF safetensors total): 280e12 / (2 * 68.98e9) = 2029.6 tokens/s per GPU. The paper
    # states 1857 (about 260 TFLOPS at 70e9); 280e12 / (2 * 70e9) = 2000.
    model, system = load_model("llama-2-70b"), load_system("a100x8-nvlink")
    assert optimal_tokens_per_s_per_device(model, system, 280e12) == pytest.approx(2029.6, abs=1)
