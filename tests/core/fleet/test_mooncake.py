"""Prefix caching on the first 2,000 requests of Mooncake's conversation trace (Kimi,
FAST'25), Llama-3.1-8B on H100s. The trace's arrival times are stretched 8x so that one
replica keeps up with it (unstretched, its 41k prompt tokens/s need about four)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.core.fleet.helpers import run_fleet

REPO = Path(__file__).resolve().parents[3]
TRACE = REPO / "data/traces/mooncake_conversation.jsonl"
REQUESTS = 2000
BLOCK = 512  # tokens behind one Mooncake hash id
HOST = {"bytes": 2.0e12, "bandwidth_bytes_per_s": 25.0e9}  # ~ PCIe 5 x16, 2 TB of DRAM

pytestmark = pytest.mark.slow  # five runs of 2,000 long prompts: ~40 s of CPU


def seen_before_share() -> float:
    """Share of prompt tokens in leading 512-token blocks that an earlier prompt had."""
    seen: set[int] = set()
    hit = total = 0
    with TRACE.open() as f:
        for line, _ in zip(f, range(REQUESTS), strict=False):
            row = json.loads(line)
            n, leading = row["input_length"], True
            for j, block in enumerate(row["hash_ids"]):
                tokens = min(BLOCK, n - BLOCK * j)
                if tokens <= 0:
                    break
                leading = leading and block in seen
                hit += tokens if leading else 0
                seen.add(block)
            total += n
    return hit / total


def _scenario(policy: dict, cluster: dict | None = None) -> dict:
    data = {
        "model": "llama-3.1-8b",
        "system": "h100x1",
        "policy": policy,
        "workload": {"requests": REQUESTS, "trace": str(TRACE), "time_scale": 8},
    }
    return data if cluster is None else {**data, "cluster": cluster}


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    cached = {"prefix_caching": True, "kv_offload": HOST}
    four = {"replicas": 4}
    return {
        "off": run_fleet(_scenario({})),
        "gpu": run_fleet(_scenario({"prefix_caching": True})),
        "host": run_fleet(_scenario(cached)),
        "affinity": run_fleet(_scenario(cached, {**four, "router": "prefix-affinity"})),
        "round-robin": run_fleet(_scenario(cached, {**four, "router": "round-robin"})),
    }


def test_with_a_large_host_tier_every_earlier_prefix_hits(runs):
    expected = seen_before_share()
    got = runs["host"]["prefix_cache"]
    assert runs["host"]["requests"]["preempted"] == 0  # each prompt looked up once
    assert got["hit_ratio"] == pytest.approx(expected, rel=0.01)
    assert got["offload_hit_tokens"] > 0
    # Copied back at 25 GB/s: Llama-3.1-8B holds 2 x 32 layers x 8 KV heads x 128 x 2 bytes
    # = 131,072 bytes per token.
    load_s = got["offload_hit_tokens"] * 131_072 / 25.0e9
    assert got["offload_load_s"] == pytest.approx(load_s, rel=1e-9)


def test_the_device_cache_alone_hits_less(runs):
    assert runs["gpu"]["prefix_cache"]["hit_ratio"] < runs["host"]["prefix_cache"]["hit_ratio"]
    assert runs["gpu"]["prefix_cache"]["offload_hit_tokens"] == 0


def test_prefix_affinity_keeps_the_hits_round_robin_loses(runs):
    one = runs["host"]["prefix_cache"]["hit_ratio"]
    affinity = runs["affinity"]["prefix_cache"]["hit_ratio"]
    assert affinity >= 0.8 * one
    assert affinity > runs["round-robin"]["prefix_cache"]["hit_ratio"]


def test_caching_lowers_the_median_ttft(runs):
    assert runs["host"]["ttft_s"]["p50"] < runs["off"]["ttft_s"]["p50"]
    assert "prefix_cache" not in runs["off"]
