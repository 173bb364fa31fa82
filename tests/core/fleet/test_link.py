"""KV transfers: latency + bytes / bandwidth, bandwidth shared by concurrent transfers."""

from __future__ import annotations

import pytest
from tests.core.fleet.helpers import run_fleet

from llmemu.core.fleet.link import SharedLink


def _drain(link: SharedLink) -> dict[str, float]:
    done = {}
    while link.flows:
        for t in link.advance(link.next_event_s()):
            done[t.payload] = t.done_s
    return done


def test_one_transfer_takes_latency_plus_bytes_over_bandwidth():
    link = SharedLink(50e9, 10e-6)
    link.start(1.0, 536_870_912, "a")
    # 536,870,912 B / 50e9 B/s = 10.737418 ms, plus 10 us of latency.
    assert _drain(link)["a"] == pytest.approx(1.0 + 10e-6 + 0.010737418, abs=1e-9)


def test_concurrent_transfers_share_the_bandwidth():
    link = SharedLink(1e11, 0.0)
    link.start(0.0, 2e9, "a")
    link.start(0.01, 0.5e9, "b")
    done = _drain(link)
    # a alone until 0.01 s moves 1e9 B; then each gets 5e10 B/s: b's 0.5e9 B take 0.01 s,
    # a moves 0.5e9 B meanwhile and its last 0.5e9 B run alone at 1e11 B/s: 0.005 s.
    assert done["b"] == pytest.approx(0.02, abs=1e-12)
    assert done["a"] == pytest.approx(0.025, abs=1e-12)


def test_fleet_prices_the_prompt_kv_on_the_link():
    data = {
        "model": "llama-3-8b",
        "system": "h100x1",
        "cluster": {
            "pools": [
                {"name": "p", "role": "prefill"},
                {"name": "d", "role": "decode"},
            ],
            "link": {"bandwidth_bytes_per_s": 50e9, "latency_s": 10e-6},
        },
        "workload": {
            "requests": 1,
            "arrival": {"kind": "poisson", "rate": 1},
            "input_tokens": {"kind": "constant", "value": 4096},
            "output_tokens": {"kind": "constant", "value": 8},
        },
    }
    s = run_fleet(data)
    # Llama-3-8B KV per token: 2 (K, V) x 32 layers x 8 KV heads x 128 x 2 bytes = 131,072 B;
    # 4096 tokens: 536,870,912 B, 10.737418 ms at 50 GB/s, + 10 us.
    assert s["kv_transfer"]["bytes"] == 536_870_912
    assert s["kv_transfer"]["seconds_p50"] == pytest.approx(0.010747418, abs=1e-9)
    assert s["replicas"]["p-0"]["requests"] == 1 and s["replicas"]["d-0"]["requests"] == 1
    # The first token comes from the prefill replica; decode starts after the transfer.
    decode = s["replicas"]["d-0"]
    assert decode["ttft_s"]["p50"] == s["replicas"]["p-0"]["ttft_s"]["p50"]
    assert s["e2e_s"]["p50"] > s["ttft_s"]["p50"] + 0.010747418
