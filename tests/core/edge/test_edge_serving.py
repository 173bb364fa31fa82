"""Single-user and batched serving go through the same engine on an edge cluster."""

import pytest

from llmemu.core.catalog import load_system
from llmemu.core.errors import ConfigError
from llmemu.core.replica import build_replica
from llmemu.core.results import summarize
from llmemu.core.scenario import PolicySpec
from llmemu.core.simulate import materialise, run
from llmemu.core.specs.loading import load_model
from llmemu.core.workload import WorkloadSpec


def serve(max_num_seqs: int, arrival: dict) -> dict:
    model = load_model("llama-2-7b").model_copy(update={"dtype_bytes": 4})
    policy = PolicySpec(
        batching="edge", allreduce="star", memory_window=2, max_num_seqs=max_num_seqs
    )
    replica = build_replica(model, load_system("edge-klonet-4"), policy)
    spec = WorkloadSpec.model_validate(
        {
            "requests": 2,
            "arrival": arrival,
            "input_tokens": {"kind": "constant", "value": 1},
            "output_tokens": {"kind": "constant", "value": 5},
        }
    )
    return summarize(run(replica, materialise(spec, 0)), 0.0)


def test_batched_requests_share_iterations():
    # Two requests at once, two sequences per batch: every iteration advances both, so the
    # run takes 5 iterations (one per output token), not 2 x 5 as one user at a time does.
    batched = serve(2, {"kind": "burst"})
    single = serve(1, {"kind": "closed", "concurrency": 1})
    assert batched["requests"]["completed"] == single["requests"]["completed"] == 2
    assert batched["iterations"] == 5
    assert single["iterations"] == 10


def test_per_node_times_are_reported():
    edge = serve(1, {"kind": "closed", "concurrency": 1})["edge"]
    assert set(edge["nodes"]) == {"h1", "h2", "h3", "h4"}
    master = edge["nodes"]["h1"]
    assert master["compute_s"] > 0 and master["disk_s"] > 0 and master["communication_s"] > 0


def test_window_without_disk_bandwidth_is_a_config_error():
    model = load_model("llama-2-7b")
    policy = PolicySpec(batching="edge", memory_window=2)
    with pytest.raises(ConfigError, match="disk_bytes_per_s"):
        build_replica(model, load_system("h100x2"), policy)
