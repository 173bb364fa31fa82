"""The representative iteration: its mean batch, its lanes and its roofline points."""

import pytest

from llmemu.cli.files import load_scenario_data
from llmemu.core.ops import Op, OpKind
from llmemu.core.replica import build_replica
from llmemu.core.routing.placed import Placed, PricedBlock, PricedPlan
from llmemu.core.simulate import run
from llmemu.reports.detail import details
from llmemu.reports.iteration import lanes, mean_batch
from llmemu.reports.roofline import achieved_points


def _one_request_run():
    data = {
        "model": "llama-3-8b",
        "system": "h100x1",
        "workload": {
            "requests": 1,
            "arrival": {"kind": "burst"},
            "input_tokens": {"kind": "constant", "value": 100},
            "output_tokens": {"kind": "constant", "value": 11},
        },
    }
    loaded = load_scenario_data(data, ".", [], "test")
    replica = build_replica(loaded.model, loaded.system, loaded.spec.policy)
    return run(replica, loaded.workload())


def test_mean_batch_of_one_request_by_hand() -> None:
    result = _one_request_run()
    # One prefill iteration (100 tokens, first token) and 10 decode iterations.
    assert result.recorder.iterations == 11
    batch = mean_batch(result)
    # 10 decode tokens over 11 iterations -> round(0.91) = 1 decoding request.
    assert batch.num_decode == 1
    # Decode token j attends to 100 + j tokens, j = 1..10: (1000 + 55) / 10 = 105.5 each,
    # times one request, rounded half to even -> 106.
    assert batch.decode_context == 106
    # 100 prompt tokens over 11 iterations -> round(9.09) = 9.
    assert batch.prefill_chunks == ((9, 0),)
    assert batch.num_logits == 2


def test_details_count_every_request_and_token() -> None:
    d = details(_one_request_run())
    assert sum(d["distributions"]["ttft_s"]["counts"]) == 1
    assert sum(d["distributions"]["tpot_s"]["counts"]) == 1
    assert sum(d["distributions"]["itl_s"]["counts"]) == 10  # 11 tokens, 10 gaps
    assert d["iteration"]["timeline"] == "stages"
    assert [r["name"] for r in d["iteration"]["ops"]][0] == "qkv"


def _op(name: str) -> Op:
    return Op(name, OpKind.GEMM, flops=1.0, bytes=1.0)


def test_lanes_overlap_a_stage_across_processors() -> None:
    # Stage 1: A (1 s) and C (0.5 s) on x, B (2 s) on y; stage 2: D (1 s) on x; 3 layers.
    stage1 = (Placed(_op("A"), "x", 1.0), Placed(_op("B"), "y", 2.0), Placed(_op("C"), "x", 0.5))
    plan = PricedPlan((PricedBlock((stage1, (Placed(_op("D"), "x", 1.0),)), repeat=3),), 0)
    spans = {b["op"]: (b["device"], b["start_s"], b["duration_s"]) for b in lanes(plan, False)}
    # x runs A then C (0-1, 1-1.5) while y runs B (0-2); D waits for the stage: starts at 2.
    assert spans == {
        "A": ("x", 0.0, 1.0),
        "B": ("y", 0.0, 2.0),
        "C": ("x", 1.0, 0.5),
        "D": ("x", 2.0, 1.0),
    }
    serial = {b["op"]: b["start_s"] for b in lanes(plan, True)}
    assert serial == {"A": 0.0, "B": 1.0, "C": 3.0, "D": 3.5}  # one after another


def test_roofline_point_is_per_device() -> None:
    iteration = {
        "processors": {"gpu": {"count": 2}},
        "ops": [
            {
                "name": "qkv",
                "device": "gpu",
                "flops": 2e12,
                "bytes": 1e10,
                "time_s": 0.01,
                "op_per_byte": 200.0,
            },
            {
                "name": "allreduce",
                "device": "gpu",
                "flops": 1e9,
                "bytes": 4e9,
                "net_bytes": 4e9,
                "time_s": 0.001,
                "op_per_byte": 0.0,
            },
        ],
    }
    # 2e12 FLOPs over 2 devices in 0.01 s: 1e14 FLOP/s each; the collective is left out.
    assert achieved_points(iteration, "gpu") == [
        {"op": "qkv", "op_per_byte": 200.0, "flops_per_s": pytest.approx(1e14)}
    ]


def test_nanoflow_lanes_are_its_own_overlapping_schedule() -> None:
    data = {
        "model": "llama-2-70b",
        "system": "a100x8-nvlink",
        "policy": {"batching": "nanoflow", "max_num_batched_tokens": 2048},
        "workload": {
            "requests": 16,
            "arrival": {"kind": "burst"},
            "input_tokens": {"kind": "constant", "value": 512},
            "output_tokens": {"kind": "constant", "value": 8},
        },
    }
    loaded = load_scenario_data(data, ".", [], "test")
    replica = build_replica(loaded.model, loaded.system, loaded.spec.policy)
    it = details(run(replica, loaded.workload()))["iteration"]
    assert it["timeline"] == "nanoflow"
    lanes_by_name: dict[str, list[tuple[float, float]]] = {}
    for bar in it["lanes"]:
        span = (bar["start_s"], bar["start_s"] + bar["duration_s"])
        lanes_by_name.setdefault(bar["device"], []).append(span)
    assert {"a100 compute", "a100 network"} <= set(lanes_by_name)
    # NanoFlow's point: a network nano-op (all-reduce) runs while a compute one does.
    assert any(
        a0 < b1 and b0 < a1
        for a0, a1 in lanes_by_name["a100 network"]
        for b0, b1 in lanes_by_name["a100 compute"]
    )
