"""sim_speed case (c) without the fleet package: 1,000,000 ShareGPT-length requests over 64
replicas of Llama-3-8B on one H100, routed round-robin, Poisson at 80 % of the fleet's
capacity. A MINIMAL multi-engine loop over the offline engine, not the fleet driver: with
round-robin routing no replica's state affects another's, so each replica is advanced to
an arrival's time just before that arrival is handed to it (what `simulate.run` does for
one replica), and all are drained at the end. Arrivals and lengths are drawn in chunks,
so the workload is never materialised whole.

Prints one JSON line: requests, iterations, simulated seconds, output tokens/s and the
peak RSS of this process.

Usage: python benchmarks/sim_fleet_min.py [--requests 1000000] [--replicas 64]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
from pathlib import Path

import numpy as np

from llmemu.core.catalog import load_system
from llmemu.core.replica import build_replica
from llmemu.core.scenario import PolicySpec
from llmemu.core.specs.loading import load_model
from llmemu.core.workload import parse_length_rows

DATA = Path(__file__).resolve().parents[1] / "data" / "sharegpt_lengths.csv"
CAPACITY_PER_REPLICA = 40.0
"""Requests/s one h100x1 replica serves on ShareGPT lengths before queues grow (sim_speed
case (a)'s scenario: TTFT p50 21 ms at 40 req/s, 0.4 s at 45)."""
CHUNK = 1 << 16


class Member:
    def __init__(self, engine) -> None:
        self.engine, self.now = engine, 0.0
        self.iterations = self.finished = self.tokens = 0

    def advance(self, until: float) -> None:
        """Run iterations until the clock reaches `until` or the replica is idle."""
        engine = self.engine
        while self.now < until and engine.has_work():
            result = engine.step(self.now, until)
            if result is None:
                break
            self.now += result.duration_s
            self.iterations += result.iterations
            for req in result.finished:
                self.finished += 1
                self.tokens += req.generated
        self.now = max(self.now, until) if until != math.inf else self.now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--replicas", type=int, default=64)
    parser.add_argument("--load", type=float, default=0.8)
    args = parser.parse_args()
    model, system = load_model("llama-3-8b"), load_system("h100x1")
    policy = PolicySpec(max_num_seqs=256, max_num_batched_tokens=8192)
    members = []
    for _ in range(args.replicas):
        engine = build_replica(model, system, policy).engine
        engine.track_requests = False
        members.append(Member(engine))
    rows = parse_length_rows(DATA.read_text(), str(DATA))
    rate = args.load * CAPACITY_PER_REPLICA * args.replicas
    rng = np.random.default_rng(0)
    context = model.max_context
    t, issued = 0.0, 0
    while issued < args.requests:
        n = min(CHUNK, args.requests - issued)
        arrivals = t + np.cumsum(rng.exponential(1.0 / rate, n))
        pick = rows[rng.integers(0, len(rows), n)]
        outputs = np.minimum(np.maximum(1, pick[:, 1]), context - 1)
        inputs = np.minimum(np.maximum(1, pick[:, 0]), context - outputs)
        for i in range(n):
            member = members[(issued + i) % len(members)]
            member.advance(float(arrivals[i]))
            member.engine.new_request(float(arrivals[i]), int(inputs[i]), int(outputs[i]))
        issued += n
        t = float(arrivals[-1])
    for member in members:
        member.advance(math.inf)
    span = max(m.now for m in members)
    print(
        json.dumps(
            {
                "requests": sum(m.finished for m in members),
                "iterations": sum(m.iterations for m in members),
                "simulated_s": span,
                "output_tokens_per_s": sum(m.tokens for m in members) / span,
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
