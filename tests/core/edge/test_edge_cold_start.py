"""The first iteration of a fresh TPI-LLM process starts with no weights in memory.

TPI-LLM's `MemoryManager` loads nothing until the first forward pass tracks its first block
(`memory/mem_manager.py`), so the first token's first blocks cannot load under the previous
token's tail as later tokens' do. Times in seconds, worked by hand.
"""

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.edge.blocks import Block, Step
from llmemu.core.edge.window import run_window
from llmemu.core.errors import ConfigError
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


def three_blocks() -> list[Step]:
    # One node, three blocks of compute 1 s and load 2 s each, no collectives.
    block = Block("ffn", 1.0, weight_bytes=1.0, load_s=2.0)
    return [Step((block,), 0.0)] * 3


def test_cold_window_cannot_preload_the_first_block():
    # w = 2. Cold (one pass from empty): b0 loads 0-2, computes 2-3; b1 loads 2-4,
    # computes 4-5; b2 waits for b0's release (3) and the disk (4): loads 4-6, computes
    # 6-7. First iteration = 7 s, stalled 2 + 1 + 1 = 4 s.
    # Steady (second pass, from 7): b0 may load once b1 is released (5), the disk is free
    # at 6: loads 6-8, computes 8-9; b1 (b2 released at 7) loads 8-10, computes 10-11;
    # b2 (b0 released at 9) loads 10-12, computes 12-13. Iteration = 13 - 7 = 6 s = the
    # disk's 3 x 2 s: b0's load started 1 s before the iteration, hidden under b2's compute.
    cold, (first,) = run_window(three_blocks(), window=2, cold=True)
    steady, (later,) = run_window(three_blocks(), window=2)
    assert cold == pytest.approx(7.0)
    assert first.stall_s == pytest.approx(4.0)
    assert steady == pytest.approx(6.0)
    assert later.stall_s == pytest.approx(3.0)


def test_cold_start_with_the_scheduler_off_streams_the_whole_shard_once():
    # w = 0 keeps every block resident, but a fresh process has to read them first: the
    # disk streams b0, b1, b2 at 0-2, 2-4, 4-6 and each computes as it lands: 2-3, 4-5,
    # 6-7. First iteration = 7 s with 6 s of disk; afterwards 3 x 1 s of compute only.
    cold, (first,) = run_window(three_blocks(), window=0, cold=True)
    steady, (later,) = run_window(three_blocks(), window=0)
    assert cold == pytest.approx(7.0)
    assert first.disk_s == pytest.approx(6.0)
    assert steady == pytest.approx(3.0)
    assert later.disk_s == 0.0


def edge_pricer(options: dict):
    model = load_model("llama-2-7b").model_copy(update={"dtype_bytes": 4})
    policy = PolicySpec(batching="edge", memory_window=2, max_num_seqs=1, options=options)
    return build_replica(model, load_system("edge-klonet-4"), policy).engine.pricer


def test_only_the_first_iteration_of_a_cold_replica_is_cold():
    prompt = BatchShape(prefill_chunks=((1, 0),), num_logits=1)
    warm = edge_pricer({}).price(prompt).duration_s
    pricer = edge_pricer({"cold_start": True})
    first = pricer.price(prompt).duration_s
    second = pricer.price(prompt).duration_s
    assert first > warm
    assert second == warm


def test_cold_start_must_be_a_boolean():
    with pytest.raises(ConfigError, match="cold_start"):
        edge_pricer({"cold_start": "yes"})
