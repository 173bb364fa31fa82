"""Peak memory per edge node against TPI-LLM Prop. 5, and OOM reported, not raised."""

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.edge.budget import nodes_memory
from llmemu.core.edge.memory import block_order, peak_weights
from llmemu.core.replica import build_replica
from llmemu.core.results import summarize
from llmemu.core.scenario import PolicySpec
from llmemu.core.simulate import materialise, run
from llmemu.core.specs.loading import load_model
from llmemu.core.workload import WorkloadSpec

H, V, FFN = 8192, 32000, 28672  # Llama 2-70B: hidden, vocab, intermediate
ATTN = 2 * (1 + 8 / 64) * H * H / 8 + H  # Table 4: 2(a+b)h^2 p/a + h, p = 1/8
MLP = 3 * H * FFN / 8 + H  # Table 4: 3hsp + h


def llama70b_fp32():
    return load_model("llama-2-70b").model_copy(update={"dtype_bytes": 4})


@pytest.mark.parametrize(
    ("window", "master_elements"),
    [
        (1, V * H + H),  # Prop. 5, w = 1: hv + h (the output head, the larger block)
        (2, 2 * V * H + H),  # w = 2: 2hv + h
        (3, 2 * V * H + H + MLP),  # w >= 3: + floor((w-2)/2) attn + floor((w-1)/2) ffn
        (4, 2 * V * H + H + ATTN + MLP),
    ],
)
def test_master_window_weights_follow_prop_5(window, master_elements):
    model = llama70b_fp32()
    weights, _ = peak_weights(block_order(model, 1 / 8, master=True), window, 0.0)
    assert weights == pytest.approx(master_elements * 4)


def test_worker_window_weights_follow_prop_5():
    # floor(w/2) attention + floor((w+1)/2) FFN blocks: w = 2 -> one of each, 0.43 GB.
    model = llama70b_fp32()
    weights, _ = peak_weights(block_order(model, 1 / 8, master=False), 2, 0.0)
    assert weights == pytest.approx((ATTN + MLP) * 4)
    assert weights == pytest.approx(0.4279e9, rel=1e-3)


def test_master_peak_adds_loading_copy_and_runtime():
    # w = 2: output head + input embedding (2hv + h) x 4 B = 2.0972 GB, plus the FP16
    # checkpoint copy of the embedding being loaded (hv x 2 B = 0.5243 GB), plus the 0.5 GB
    # runtime, plus activations of 512 tokens: 512 x (2h + 2 x 28672 / 8) x 4 B = 48.4 MB and
    # FP32 logits of one sequence 4 x 32000 B = 0.128 MB. Sum 3.1699 GB (paper: 3.1 GB).
    model = llama70b_fp32()
    policy = PolicySpec(
        batching="edge", memory_window=2, max_num_seqs=1, max_num_batched_tokens=512
    )
    master = nodes_memory(model, load_system("edge-klonet-8"), policy)[0]
    expected = (2 * V * H + H) * 4 + V * H * 2 + 0.5e9 + 512 * (2 * H + 2 * FFN / 8) * 4 + 4 * V
    assert master.need_bytes() == pytest.approx(expected)
    assert master.need_bytes() == pytest.approx(3.17e9, rel=1e-3)


def test_oom_is_reported_not_raised():
    # Scheduler off: a worker holds 1/8 of every layer, 8.56e9 params x 4 B = 34.2 GB, far
    # over 8 GB + 4 GB swap. The replica builds, every request is rejected, and the
    # summary says OOM.
    model = llama70b_fp32()
    policy = PolicySpec(batching="edge", allreduce="star", memory_window=0, max_num_seqs=1)
    replica = build_replica(model, load_system("edge-klonet-8"), policy)
    spec = WorkloadSpec.model_validate(
        {
            "requests": 2,
            "arrival": {"kind": "closed", "concurrency": 1},
            "input_tokens": {"kind": "constant", "value": 1},
            "output_tokens": {"kind": "constant", "value": 4},
        }
    )
    summary = summarize(run(replica, materialise(spec, 0)), 0.0)
    assert summary["requests"]["rejected"] == 2
    assert summary["requests"]["rejected_because"] == {
        "no room for a KV cache (the weights fill the memory: OOM)": 2
    }
    edge = summary["edge"]
    assert edge["oom"] is True
    assert edge["nodes"]["h2"]["peak_memory_bytes"] > 34e9
    assert edge["nodes"]["h2"]["capacity_bytes"] == 12e9
