"""Compare core/pim_commands.py with a run of the authors' cycle simulator (casys-kaist/NeuPIMs).

    .venv/bin/python benchmarks/neupims_sim_check.py TRACE.csv SUMMARY.tsv [--naive] [--elements 1024]

TRACE.csv is the simulator's request trace (columns seq_len, ch_idx: the context of each
request and its channel); SUMMARY.tsv is the `_summary.tsv` the simulator writes into its log
directory (per stage: total_cycles). With sub-batching off a layer is stage A (QKV on the NPU),
B (attention on the PIM) and E (projection and FFNs); B is what the PIM formulas predict.
`--naive` prices with `newton-pim` (branch npu+pim), otherwise `neupims-pim` (main);
`--elements`: query elements per device per token (GPT-3 7B at TP 4: 8 heads x 128).
"""

from __future__ import annotations

import argparse
import csv

from llmemu.core.catalog import load_device
from llmemu.core.pim_commands import channel_loads, operation_cycles


def predicted_cycles(trace: str, device: str, elements: int) -> tuple[float, float]:
    """(K^T.q cycles, s.V cycles) of the trace's batch on its own channels."""
    with open(trace, newline="") as f:
        rows = [(int(r["seq_len"]), int(r["ch_idx"])) for r in csv.DictReader(f)]
    pim = load_device(device)
    pc = pim.pim_commands
    assert pc is not None
    contexts, channels = zip(*rows, strict=True)
    k, v = channel_loads(contexts, channels, pim.channels, elements, pc)
    return operation_cycles(k, pc), operation_cycles(v, pc)


def simulated_cycles(summary: str) -> dict[str, int]:
    with open(summary, newline="") as f:
        return {r["Stage"]: int(r["total_cycles"]) for r in csv.DictReader(f, delimiter="\t")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace")
    parser.add_argument("summary")
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--elements", type=int, default=1024)
    args = parser.parse_args()
    device = "newton-pim" if args.naive else "neupims-pim"
    k, v = predicted_cycles(args.trace, device, args.elements)
    stages = simulated_cycles(args.summary)
    print(f"{device}: predicted attention {k:.0f} + {v:.0f} = {k + v:.0f} cycles")
    for stage, cycles in stages.items():
        print(f"  simulated stage {stage}: {cycles} cycles")
    if "B" in stages:
        print(f"  stage B / predicted: {stages['B'] / (k + v):.3f}")


if __name__ == "__main__":
    main()
