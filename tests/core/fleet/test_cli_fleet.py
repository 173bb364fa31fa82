"""`llmemu simulate` on a cluster scenario: the fleet keys of --json and the text lines."""

from __future__ import annotations

import json

import yaml

SCENARIO = {
    "model": "llama-3-8b",
    "system": "h100x1",
    "policy": {"prefix_caching": True},
    "cluster": {
        "router": "least-loaded",
        "pools": [
            {"name": "pre", "role": "prefill"},
            {"name": "dec", "role": "decode", "replicas": 2},
        ],
        "link": {"name": "ib", "bandwidth_bytes_per_s": 50e9, "latency_s": 1e-5},
    },
    "workload": {
        "requests": 30,
        # 1 s apart on average, each prefill done in ~20 ms: a prompt arrives after the
        # previous one of its group is computed (the fleet looks prefixes up on arrival).
        "arrival": {"kind": "poisson", "rate": 1},
        "input_tokens": {"kind": "constant", "value": 256},
        "output_tokens": {"kind": "constant", "value": 16},
        "prefix_groups": {"groups": 2, "tokens": 512},
    },
}


def test_simulate_json_and_text_show_the_fleet(cli, tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    code, out, err = cli("simulate", str(path), "--json")
    assert code == 0, err
    s = json.loads(out)
    assert set(s["replicas"]) == {"pre-0", "dec-0", "dec-1"}
    for r in s["replicas"].values():
        assert {"requests", "throughput", "ttft_s", "tpot_s", "kv_peak_usage", "prefix_hit_ratio"} <= set(r)  # fmt: skip
    assert s["router"]["name"] == "least-loaded"
    assert sum(s["router"]["decisions"].values()) == 60  # 30 prefills + 30 decodes
    assert set(s["prefix_cache"]) >= {"query_tokens", "hit_tokens", "hit_ratio", "offload_hit_tokens"}  # fmt: skip
    # Two system prompts of 512 tokens: all but the first of each group hit 32 blocks.
    assert s["prefix_cache"]["hit_tokens"] == 28 * 512
    # 30 transfers of 768 tokens x 131,072 bytes.
    assert s["kv_transfer"]["bytes"] == 30 * 768 * 131_072
    code, out, _ = cli("simulate", str(path))
    assert code == 0
    assert (
        "prefix cache" in out
        and "kv transfer 30 x over ib" in out
        and "router     least-loaded" in out
    )
