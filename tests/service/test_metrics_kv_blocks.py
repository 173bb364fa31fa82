"""KV block residency: each block's lifetime from the iteration that allocated it to the one
that freed it, by hand over engine steps written out here (block_size 16)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from llmemu.core.engine import StepResult
from llmemu.core.request import Request, Status
from llmemu.core.scheduler import Scheduled
from llmemu.service.metrics.kv_blocks import KvBlockResidency

# vLLM loggers.py kv_cache_residency_buckets, as Prometheus writes them.
RESIDENCY = ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1.0", "2.0",
             "5.0", "10.0", "20.0", "30.0", "60.0", "120.0", "300.0", "600.0", "1200.0", "1800.0",
             "+Inf"]  # fmt: skip


def _step(t: KvBlockResidency, start_s, end_s, entries, preempted=(), finished=()) -> None:
    scheduled = Scheduled(preempted=tuple(preempted), entries=tuple(entries))
    result = StepResult(start_s, end_s - start_s, 1, end_s - start_s, 0.0, scheduled, finished=list(finished))  # fmt: skip
    t.on_step(result, start_s, end_s)


def _set(req: Request, computed: int, blocks: int, status: Status = Status.RUNNING) -> Request:
    """What the engine leaves in `req` after an iteration."""
    req.computed, req.num_blocks, req.status = computed, blocks, status
    return req


def _families(tracker: KvBlockResidency) -> dict:
    registry = CollectorRegistry()
    registry.register(tracker)
    text = generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _hist(family) -> tuple[dict[str, float], float, float]:
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    total = next(s.value for s in family.samples if s.name.endswith("_sum"))
    count = next(s.value for s in family.samples if s.name.endswith("_count"))
    return buckets, total, count


def test_finish_preemption_and_abort_free_blocks_at_their_moments():
    t = KvBlockResidency("m", block_size=16)
    a = Request(0, arrival_s=0.0, prompt_tokens=31, max_output_tokens=3)
    b = Request(1, arrival_s=0.0, prompt_tokens=20, max_output_tokens=100)
    c = Request(2, arrival_s=0.0, prompt_tokens=5, max_output_tokens=100)
    # [0.0, 0.5]: A's 31-token prompt (2 blocks) and B's 20 (2 blocks) are computed.
    _step(t, 0.0, 0.5, [(_set(a, 31, 2), 31), (_set(b, 20, 2), 20)])
    # [0.5, 0.6]: A decodes (32 tokens: still 2 blocks), C's prompt arrives (1 block).
    _step(t, 0.5, 0.6, [(_set(a, 32, 2), 1), (_set(c, 5, 1), 5)])
    # [0.6, 0.7]: A's 33rd token needs a 3rd block, born at 0.6; the scheduling preempted B
    # (freed at 0.6); A finishes and gives its 3 blocks back at 0.7.
    _set(b, 0, 0, Status.WAITING)
    _step(t, 0.6, 0.7, [(_set(a, 33, 0, Status.FINISHED), 1)], [b], [a])
    # C is aborted before the next iteration: freed when the last one ended, 0.7.
    _set(c, 5, 0, Status.ABORTED)
    t.on_abort(c)

    lifetimes = [0.7, 0.7, 0.1, 0.6, 0.6, 0.2]  # A: 0.7-0.0 x2, 0.7-0.6; B: 0.6-0.0 x2; C: 0.7-0.5
    fam = _families(t)
    for name in ("vllm:kv_block_lifetime_seconds", "vllm:kv_block_idle_before_evict_seconds"):
        buckets, total, count = _hist(fam[name])
        assert list(buckets) == RESIDENCY
        assert count == 6 and total == pytest.approx(sum(lifetimes))  # 2.9 s
        # le=0.1: A's third block; le=0.2: + C's; le=0.5: same; le=1: all six.
        assert (buckets["0.05"], buckets["0.1"], buckets["0.2"], buckets["0.5"], buckets["1.0"]) == (0, 1, 2, 2, 6)  # fmt: skip
        assert buckets["+Inf"] == 6
    # No prefix cache: nothing touches a block after its allocation, so no reuse gaps.
    buckets, total, count = _hist(fam["vllm:kv_block_reuse_gap_seconds"])
    assert count == 0 and total == 0 and set(buckets.values()) == {0}


def test_a_preempted_request_readmitted_in_the_same_scheduling_gets_new_blocks():
    t = KvBlockResidency("m", block_size=16)
    b = Request(1, arrival_s=0.0, prompt_tokens=20, max_output_tokens=100)
    _step(t, 0.0, 0.5, [(_set(b, 20, 2), 20)])
    # [1.0, 1.2]: preempted (2 blocks freed at 1.0) and readmitted with a 16-token chunk.
    _step(t, 1.0, 1.2, [(_set(b, 16, 1), 16)], [b])
    # Aborted after that iteration: its new block lived 1.2 - 1.0.
    _set(b, 16, 0, Status.ABORTED)
    t.on_abort(b)
    _, total, count = _hist(_families(t)["vllm:kv_block_lifetime_seconds"])
    assert count == 3 and total == pytest.approx(2 * 1.0 + 0.2)


def test_labels_are_model_name_and_engine():
    fam = _families(KvBlockResidency("m", block_size=16))["vllm:kv_block_lifetime_seconds"]
    assert fam.type == "histogram"
    assert {(s.labels["model_name"], s.labels["engine"]) for s in fam.samples} == {("m", "0")}
