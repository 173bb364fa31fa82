"""A processor's busy time in a NanoFlow iteration (share-seconds of its units) against the
iteration's duration: no device is busy for longer than the iteration lasts.

Llama-3-8B on one Duplex device (tp 1: no all-reduce). With xpu-only routing a batch of
prompt chunks alone runs every nano-op on the H100 with the REST share (only decode
attention and the all-reduce have fixed shares), so some REST op holds all of the H100's
units from the first nano-op to the end of the last layer, and the LM head then runs alone
on it: busy for exactly the iteration's duration. No one layer stands for the others: the
first runs its REST ops beside fewer ops, on more units (a memory-bound op holds
R / P(R) units per second of its work alone: 1 at R = 1, 0.5 / 0.8125 at R = 0.5), so
its share-seconds times the layers overstate the busy time (by 3.8 % for 200 + 116)."""

from __future__ import annotations

import pytest
import yaml

from llmemu.core.catalog import load_system
from llmemu.core.nanoflow.pipeline import time_pipeline
from llmemu.core.nanoflow.steady import steady_batch
from llmemu.core.ops import BatchShape
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model


def nanoflow_pricer(routing):
    policy = PolicySpec(
        batching="nanoflow", routing=routing, max_num_batched_tokens=2048, max_num_seqs=256
    )
    return build_replica(load_model("llama-3-8b"), load_system("duplex"), policy).engine.pricer


@pytest.mark.parametrize(
    "chunks",
    [
        ((200, 0), (116, 0)),  # the period never settles: all 32 layers scheduled
        ((7, 0), (7, 256), (6, 0)),  # 8 layers scheduled, 24 at their period
    ],
)
def test_units_held_without_a_break_keep_the_device_busy_for_the_iteration(chunks):
    cost = nanoflow_pricer("xpu-only").price(BatchShape(chunks, num_logits=len(chunks)))
    assert set(cost.work) == {"h100"}
    assert cost.work["h100"].busy_s == pytest.approx(cost.duration_s, rel=1e-9)


@pytest.mark.parametrize(
    ("num_decode", "context", "chunks"),
    [(64, 1024, ((512, 0),)), (192, 512, ((128, 0),)), (200, 1000, ((100, 0), (40, 256)))],
)
def test_no_processor_is_busy_longer_than_the_iteration(num_decode, context, chunks):
    # opb-coprocess: decode attention (R = 0.4) on the Logic-PIM beside the H100's GEMMs.
    batch = BatchShape(chunks, num_decode, num_decode * context, num_decode + len(chunks))
    cost = nanoflow_pricer("opb-coprocess").price(batch)
    assert set(cost.work) == {"h100", "logic-pim"}
    for work in cost.work.values():
        assert work.busy_s <= cost.duration_s * (1 + 1e-12)


def test_simulate_reports_no_device_busy_past_the_run(cli_json, tmp_path):
    # Prompts of 300 tokens, one output token: prompt-only iterations of 300 tokens.
    scenario = {
        "model": "llama-3-8b",
        "system": "duplex",
        "policy": {
            "batching": "nanoflow",
            "routing": "opb-coprocess",
            "max_num_batched_tokens": 300,
            "max_num_seqs": 256,
            "options": {"overlap": True},  # the paper's pipeline: no search (nanoflow_auto.py)
        },
        "workload": {
            "requests": 40,
            "arrival": {"kind": "burst"},
            "input_tokens": {"kind": "constant", "value": 300},
            "output_tokens": {"kind": "constant", "value": 1},
        },
        "seed": 0,
    }
    path = tmp_path / "duplex-nanoflow.yaml"
    path.write_text(yaml.safe_dump(scenario))
    report = cli_json("simulate", str(path))
    for name, device in report["devices"].items():
        assert device["utilization"] <= 1 + 1e-12, name
    for name, bins in report["utilization_timeline"]["utilization"].items():
        assert max(bins) <= 1 + 1e-12, name


def _both_ways(system, model, routing, batch):
    """The iteration with its period extrapolated, and with every layer scheduled."""
    policy = PolicySpec(
        batching="nanoflow", routing=routing, max_num_batched_tokens=2048, max_num_seqs=2048
    )
    pricer = build_replica(load_model(model), load_system(system), policy).engine.pricer
    args = (pricer.model, batch, pricer.spec, pricer.pricer, pricer.router)
    return time_pipeline(*args), time_pipeline(*args, first_layers=10**6)


@pytest.mark.parametrize(
    ("system", "model", "routing", "batch"),
    [
        # NanoFlow's steady 512/512 batch on an A100 (8 layers scheduled, 72 extrapolated).
        ("a100x8-nvlink", "llama-2-70b", "xpu-only", steady_batch(2048, 512, 512, 2048)),
        # Decode attention on the Logic-PIM beside the H100's GEMMs.
        ("duplex", "llama-3-8b", "opb-coprocess", BatchShape(((100, 0),), 16, 16 * 1000, 17)),
        # One 512-token chunk: 8 layers settle on 284 us while the first alone keeps the
        # H100's lane busy 535 us, a regime of its own: all 32 layers are scheduled.
        ("duplex", "llama-3-8b", "xpu-only", BatchShape(((512, 0),), num_logits=1)),
    ],
    ids=["a100 steady", "duplex coprocess", "duplex one chunk"],
)
def test_extrapolated_layers_take_the_time_and_busy_time_of_scheduled_ones(
    system, model, routing, batch
):
    # The last layers scheduled have no next layer running beside them, so they hold less
    # than a layer in the block does; layer 0's lanes do not bound a later regime's period.
    extrapolated, scheduled = _both_ways(system, model, routing, batch)
    assert extrapolated.duration_s == pytest.approx(scheduled.duration_s, rel=2e-3)
    for name, work in scheduled.work.items():
        assert extrapolated.work[name].busy_s == pytest.approx(work.busy_s, rel=2e-3), name
