"""The requests of sim_speed's case (b), one list that llmemu and Vidur both replay.

Each simulator draws lengths from a trace its own way (llmemu with replacement, Vidur by a
seeded shuffle), so the same settings give two different workloads. Instead the requests are
drawn once, here, and kept as a file: llmemu reads it as a `trace:` JSONL, Vidur as the CSV
of its trace_replay generator (`vidur_csv`).

The draw: 4,000 requests, Poisson 2 req/s, (prompt, output) pairs from Splitwise's
conversation trace (data/splitwise_conv.csv), seed 0, then each request cut to 4,096
tokens in all the way Vidur's trace generators cut them (the prompt gives up the excess):
a longer prompt never fits Vidur's vLLM scheduler's 4,096-token batch, and would stall its
queue for good.

Usage: python benchmarks/vidur_trace.py   (rewrites benchmarks/scenarios/vidur-b-requests.jsonl)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TRACE = HERE / "scenarios" / "vidur-b-requests.jsonl"
LENGTHS = HERE.parent / "data" / "splitwise_conv.csv"
REQUESTS, RATE, SEED, MAX_TOKENS = 4000, 2.0, 0, 4096


def draw() -> list[tuple[float, int, int]]:
    from llmemu.core.simulate import materialise
    from llmemu.core.workload import WorkloadSpec, parse_length_rows

    spec = WorkloadSpec.model_validate(
        {
            "requests": REQUESTS,
            "arrival": {"kind": "poisson", "rate": RATE},
            "lengths": {"kind": "csv", "path": str(LENGTHS)},
        }
    )
    rows = parse_length_rows(LENGTHS.read_text(), str(LENGTHS))
    work = materialise(spec, SEED, rows=rows)
    inputs = np.maximum(1, work.inputs - np.maximum(0, work.inputs + work.outputs - MAX_TOKENS))
    arrivals = work.arrivals - work.arrivals[0]  # llmemu starts a trace at its first arrival
    return [
        (round(float(t), 6), int(i), int(o))
        for t, i, o in zip(arrivals, inputs, work.outputs, strict=True)
    ]


def read(path: Path = TRACE) -> list[tuple[float, int, int]]:
    records = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return [(r["arrival_s"], r["input_tokens"], r["output_tokens"]) for r in records]


def vidur_csv(requests: list[tuple[float, int, int]], path: Path) -> None:
    """Vidur's trace_replay columns; its generator keeps the rows of one Date."""
    lines = ["Date,Time,PromptTokenCount,CompletionTokenCount"]
    lines += [f"2023-08-21,{t},{i},{o}" for t, i, o in requests]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    lines = [
        json.dumps({"arrival_s": t, "input_tokens": i, "output_tokens": o}) for t, i, o in draw()
    ]
    TRACE.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} requests to {TRACE}")


if __name__ == "__main__":
    main()
