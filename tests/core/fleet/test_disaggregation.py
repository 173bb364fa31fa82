"""Splitwise/DistServe: separate prefill and decode replicas keep prompt computation out of
decode iterations, so the decode inter-token latency tail stays short."""

from __future__ import annotations

from pathlib import Path

from tests.core.fleet.helpers import run_fleet

REPO = Path(__file__).resolve().parents[3]
WORKLOAD = {
    "requests": 300,
    # 3 prompts/s per mixed replica: each 4096-token prompt is one ~88 ms iteration on an
    # H100, so about a quarter of a mixed replica's time goes to iterations holding a prompt.
    "arrival": {"kind": "poisson", "rate": 6},
    "input_tokens": {"kind": "constant", "value": 4096},
    "output_tokens": {"kind": "constant", "value": 128},
}
LINK = {"bandwidth_bytes_per_s": 50e9, "latency_s": 10e-6}


def test_one_prefill_and_one_decode_replica_beat_two_mixed_on_itl_p99():
    base = {"model": "llama-3-8b", "system": "h100x1", "workload": WORKLOAD}
    mixed = run_fleet({**base, "cluster": {"replicas": 2, "router": "least-loaded"}})
    split = run_fleet(
        {
            **base,
            "cluster": {
                "router": "least-loaded",
                "pools": [{"name": "p", "role": "prefill"}, {"name": "d", "role": "decode"}],
                "link": LINK,
            },
        }
    )
    assert mixed["requests"]["completed"] == split["requests"]["completed"] == 300
    # Mixed: the p99 decode gap is an iteration that also computed a 4096-token prompt
    # (tens of ms); split: decode iterations only (a few ms).
    assert split["itl_s"]["p99"] < 0.25 * mixed["itl_s"]["p99"]
    assert split["itl_s"]["p99"] < 2 * split["itl_s"]["p50"]


def test_h100_prefill_with_duplex_decode_example_runs(tmp_path):
    import yaml

    data = yaml.safe_load(
        (REPO / "examples/fleet-mixtral-h100-prefill-duplex-decode.yaml").read_text()
    )
    data["workload"]["requests"] = 40
    s = run_fleet(data)
    assert s["requests"]["completed"] == 40
    assert s["kv_transfer"]["transfers"] == 40
    assert {r["role"] for r in s["replicas"].values()} == {"prefill", "decode"}
    assert s["devices"]["duplex-decode/logic-pim"]["busy_s"] > 0
