"""Nano-batch split, dependency order and the pipeline's timing invariants."""

from __future__ import annotations

from dataclasses import replace

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.errors import ConfigError
from llmemu.core.nanoflow.pipeline import time_pipeline
from llmemu.core.nanoflow.spec import paper_pipeline, pipeline_from_options, scale_sizes
from llmemu.core.nanoflow.split import nano_batch
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model

# Table 2's batch: 2048 tokens, half decodes (context 768 each), half prompt chunks.
BATCH = BatchShape(((512, 0), (512, 0)), 1024, 1024 * 768, 1026)


@pytest.fixture(scope="module")
def llama70b():
    model, system = load_model("llama-2-70b"), load_system("a100x8-nvlink")
    policy = PolicySpec(batching="sequential", max_num_batched_tokens=2048, max_num_seqs=2048)
    pricer = build_replica(model, system, policy).engine.pricer
    return model, pricer


def test_nano_batch_takes_its_decodes_and_chunk_parts():
    # Tokens: decodes 0..2 (300 context tokens in all), then a chunk of 5 new tokens after
    # 10 cached ones at tokens 3..7.
    batch = BatchShape(((5, 10),), 3, 300, 4)
    middle = nano_batch(batch, 2, 6)
    assert (middle.num_decode, middle.decode_context) == (1, 100)  # 300 * 3/3 - 300 * 2/3
    assert middle.prefill_chunks == ((3, 10),)  # chunk tokens 0..2
    assert nano_batch(batch, 6, 8).prefill_chunks == ((2, 13),)  # chunk tokens 3..4


def test_sizes_scale_to_a_smaller_batch():
    assert scale_sizes((640, 1408), 2048) == (640, 1408)
    assert scale_sizes((640, 1408), 1024) == (320, 704)
    assert scale_sizes((640, 1408), 2) == (1, 1)  # round(0.3125 * 2) = 1


def test_every_nano_op_starts_after_its_dependencies(llama70b):
    model, pricer = llama70b
    timing = time_pipeline(model, BATCH, paper_pipeline(2048), pricer.pricer, pricer.router)
    bars = timing.bars
    layer_ops = [b for b in bars if b.op.layer == 0]
    for bar in bars:
        for d in bar.op.deps:
            assert bars[d].end_s <= bar.start_s + 1e-12
            assert d < bars.index(bar)
    # Layer 0: qkv pieces have no dependency; layer 1's first qkv piece (tokens 0..255)
    # waits for layer 0's last all-reduce of the nano-batch holding those tokens (0..639).
    assert all(not b.op.deps for b in layer_ops if b.op.name == "qkv")
    first_qkv = next(b for b in bars if b.op.layer == 1 and b.op.name == "qkv")
    (dep,) = first_qkv.op.deps
    assert (bars[dep].op.name, bars[dep].op.layer, bars[dep].op.tokens) == (
        "allreduce",
        0,
        (0, 640),
    )


def test_without_overlap_the_iteration_is_the_sum_of_the_nano_ops(llama70b):
    model, pricer = llama70b
    spec = replace(paper_pipeline(2048), overlap=False)
    timing = time_pipeline(model, BATCH, spec, pricer.pricer, pricer.router)
    per_layer = sum(b.end_s - b.start_s for b in timing.bars if b.op.layer == 0)
    lm_head = timing.plan.blocks[-1].stages[0][0].time_s
    assert timing.duration_s == pytest.approx(80 * per_layer + lm_head)


def test_nano_ops_do_the_batch_s_flops(llama70b):
    # GEMM FLOPs are linear in the tokens, so cutting the batch keeps their sum.
    model, pricer = llama70b
    whole = pricer.price(BATCH).work["a100"].flops
    timing = time_pipeline(model, BATCH, paper_pipeline(2048), pricer.pricer, pricer.router)
    assert timing.work["a100"].flops == pytest.approx(whole, rel=1e-9)


def test_a_few_layers_extrapolate_to_the_whole_model(llama70b):
    model, pricer = llama70b
    spec = paper_pipeline(2048)
    short = time_pipeline(model, BATCH, spec, pricer.pricer, pricer.router, first_layers=8)
    full = time_pipeline(model, BATCH, spec, pricer.pricer, pricer.router, first_layers=80)
    assert short.duration_s == pytest.approx(full.duration_s, rel=0.01)


def test_options_are_checked():
    with pytest.raises(ConfigError, match="sums to 2000 tokens but the dense batch"):
        pipeline_from_options(2048, {"nano_batches": [1000, 1000]})
    with pytest.raises(ConfigError, match="shares.gate_up"):
        pipeline_from_options(2048, {"shares": {"gate_up": 1.5}})
    spec = pipeline_from_options(2048, {"nano_batches": [1024, 1024], "shares": {"qkv": 0.5}})
    assert spec.partition("qkv") == (1024, 1024)  # the paper's KQV split goes with its sizes
    assert spec.share("qkv", 1) == 0.5
