"""NanoFlow's pipeline on a system with two processors (Duplex: H100 + Logic-PIM, opb
routing): pieces whose plans differ from the whole batch's (a piece of decodes alone has no
prefill attention; its attention goes to the PIM) still line up op by op, and every
nano-op waits for the latest earlier nano-ops that touched its tokens."""

from __future__ import annotations

from llmemu.core.catalog import load_system
from llmemu.core.nanoflow.pipeline import time_pipeline
from llmemu.core.nanoflow.spec import paper_pipeline
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


def test_attention_on_two_processors_waits_for_its_own_kqv_and_feeds_the_projection():
    model, system = load_model("llama-3-8b"), load_system("duplex-4")
    policy = PolicySpec(batching="sequential", routing="opb", max_num_batched_tokens=2048)
    pricer = build_replica(model, system, policy).engine.pricer
    # 64 decodes (tokens 0-63, attention on the Logic-PIM) and a 512-token prompt chunk
    # (tokens 64-575, attention on the H100): two attention stages in the whole plan.
    batch = BatchShape(prefill_chunks=((512, 0),), num_decode=64, decode_context=64 * 1024)
    timing = time_pipeline(model, batch, paper_pipeline(576), pricer.pricer, pricer.router)
    bars = [bar for bar in timing.bars if bar.op.layer == 0]

    def overlapping(name, tokens):
        lo, hi = tokens
        return [
            b for b in bars if b.op.name == name and b.op.tokens[0] < hi and lo < b.op.tokens[1]
        ]

    decode = [b for b in bars if b.op.name == "attn_decode"]
    prefill = [b for b in bars if b.op.name == "attn_prefill"]
    assert {b.op.processor for b in decode} == {"logic-pim"} and prefill
    for attn in decode + prefill:
        assert all(attn.start_s >= q.end_s - 1e-15 for q in overlapping("qkv", attn.op.tokens))
    for proj in (b for b in bars if b.op.name == "o_proj"):
        before = overlapping("attn_decode", proj.op.tokens) + overlapping(
            "attn_prefill", proj.op.tokens
        )
        assert before and all(proj.start_s >= a.end_s - 1e-15 for a in before)
