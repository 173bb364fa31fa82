"""How fast the offline simulator runs: whole `llmemu simulate` processes, median of N.

(a) 10,000 ShareGPT-length requests, Llama-3-8B on one H100, Poisson near saturation.
(b) The workload Vidur was timed on here (CodeLlama-34B from its HF config on a100x2,
    Poisson 2 req/s, 4,000 Splitwise-length requests, batch cap 128, 4,096 tokens per
    batch): Vidur needs 10.3 s for it on this machine (median of 5, 37,369 iterations).

Usage: python benchmarks/sim_speed.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = {
    "a: sharegpt llama-3-8b h100x1": HERE / "scenarios" / "sharegpt-llama3-8b-h100.yaml",
    "b: vidur codellama-34b a100x2": HERE / "scenarios" / "vidur-codellama34b-a100x2.yaml",
}
VIDUR_B_S = 10.3


def run_once(scenario: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "llmemu.cli.main", "simulate", str(scenario), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, json.loads(out.stdout)


def host_speed_s() -> float:
    """Seconds for a fixed pure-Python loop: this shared host's speed drifts by a third over a
    day, so each report carries it and runs can be compared by it."""
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reference = statistics.median(host_speed_s() for _ in range(3))
    print(f"host reference loop (10M additions): {reference:.3f} s")
    print(
        f"{'case':<32}{'wall s':>8}{'sim s/wall s':>14}{'iter/wall s':>13}{'iterations':>12}{'steps':>8}"
    )
    for name, scenario in CASES.items():
        runs = [run_once(scenario) for _ in range(args.repeat)]
        wall = statistics.median(w for w, _ in runs)
        result = runs[0][1]
        print(
            f"{name:<32}{wall:>8.2f}{result['simulated_s'] / wall:>14.0f}"
            f"{result['iterations'] / wall:>13.0f}{result['iterations']:>12}{result['engine_steps']:>8}"
        )
        if name.startswith("b"):
            print(f"{'':<32}Vidur {VIDUR_B_S} s -> {VIDUR_B_S / wall:.1f}x faster (whole process)")


if __name__ == "__main__":
    main()
