"""How fast the offline simulator runs: whole processes, median of N, wall and CPU seconds.

(a) 10,000 ShareGPT-length requests, Llama-3-8B on one H100, Poisson 25 req/s.
(b) The workload Vidur was timed on (CodeLlama-34B from its HF config on a100x2, Poisson
    2 req/s, 4,000 Splitwise-length requests, batch cap 128, 4,096 tokens per batch).
    `--vidur PYTHON --vidur-dir DIR` runs Vidur (PYTHON: an interpreter with vidur 0.0.26,
    kept out of this project's dependencies; DIR: a Vidur checkout, for its data/ folder)
    on the same workload, alternating with llmemu, and prints the ratio of the medians.
(c) 1,000,000 ShareGPT-length requests over 64 h100x1 replicas, round-robin, Poisson at
    80 % of the fleet's capacity (the scenario derives it): the fleet driver through
    `llmemu simulate --json`, run once, with the process's peak RSS. `--skip-c` leaves it
    out, `--only-c` runs it alone; `--c-requests N` runs it with N requests at the same rate.

A fixed pure-Python loop is timed first: this shared host's speed drifts (by 10x under
load), so each report carries it and runs taken at different times compare by it. CPU
seconds (user + system of the child) are steadier than wall seconds on a busy host.

Usage: python benchmarks/sim_speed.py [--repeat 5] [--skip-c | --only-c] [--c-requests N]
                                      [--vidur PYTHON --vidur-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
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
FLEET = HERE / "scenarios" / "fleet-sharegpt-64xh100.yaml"
VIDUR_ARGS = [
    "--replica_config_device", "a100",
    "--replica_config_model_name", "codellama/CodeLlama-34b-Instruct-hf",
    "--replica_config_tensor_parallel_size", "2",
    "--request_generator_config_type", "synthetic",
    "--synthetic_request_generator_config_num_requests", "4000",
    "--length_generator_config_type", "trace",
    "--trace_request_length_generator_config_trace_file",
    "./data/processed_traces/splitwise_conv.csv",
    "--interval_generator_config_type", "poisson",
    "--poisson_request_interval_generator_config_qps", "2",
    "--replica_scheduler_config_type", "vllm",
    "--vllm_scheduler_config_batch_size_cap", "128",
    "--vllm_scheduler_config_max_tokens_in_batch", "4096",
    "--no-metrics_config_write_metrics",
]  # fmt: skip


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, out.stdout


def simulate(scenario: Path, *sets: str) -> tuple[float, float, dict]:
    cmd = [sys.executable, "-m", "llmemu.cli.main", "simulate", str(scenario), "--json"]
    wall, cpu, out = timed(cmd + [a for s in sets for a in ("--set", s)])
    return wall, cpu, json.loads(out)


def peak_rss_mb() -> float:
    """The largest peak RSS of any child so far (Linux: ru_maxrss in KiB); case (c) runs
    last and uses far more than the others, so this is its own."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def host_speed_s() -> float:
    """Seconds for a fixed pure-Python loop (10M additions)."""
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - start


def medians(runs) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-c", action="store_true", help="leave out the 1M-request case")
    parser.add_argument("--only-c", action="store_true", help="run the 1M-request case alone")
    parser.add_argument("--c-requests", type=int, help="case (c) with this many requests")
    parser.add_argument("--vidur", metavar="PYTHON", help="an interpreter with vidur installed")
    parser.add_argument("--vidur-dir", metavar="DIR", help="a Vidur checkout (its data/)")
    args = parser.parse_args()
    print(f"host reference loop (10M additions): {statistics.median(host_speed_s() for _ in range(3)):.3f} s")  # fmt: skip
    print(f"{'case':<32}{'wall s':>8}{'cpu s':>8}{'sim s/wall s':>14}{'iterations':>12}{'steps':>8}")  # fmt: skip
    for name, scenario in {} if args.only_c else CASES.items():
        vidur = name.startswith("b") and args.vidur
        runs, theirs = [], []
        for _ in range(args.repeat):
            runs.append(simulate(scenario))
            if vidur:  # alternate, so that both see the same host
                cmd = [args.vidur, "-m", "vidur.main", *VIDUR_ARGS]
                theirs.append(timed(cmd, Path(args.vidur_dir or ".")))
        wall, cpu = medians(runs)
        result = runs[0][2]
        print(
            f"{name:<32}{wall:>8.2f}{cpu:>8.2f}{result['simulated_s'] / wall:>14.0f}"
            f"{result['iterations']:>12}{result['engine_steps']:>8}"
        )
        if vidur:
            v_wall, v_cpu = medians(theirs)
            print(f"{'  vidur 0.0.26, same workload':<32}{v_wall:>8.2f}{v_cpu:>8.2f}")
            print(f"{'  llmemu faster by':<32}{v_wall / wall:>7.1f}x{v_cpu / cpu:>7.1f}x")
    if not args.skip_c:
        sets = [f"workload.requests={args.c_requests}"] if args.c_requests else []
        wall, cpu, result = simulate(FLEET, *sets)
        done = result["requests"]["completed"]
        print(
            f"{'c: sharegpt, 64 x h100x1':<32}{wall:>8.2f}{cpu:>8.2f}"
            f"{result['simulated_s'] / wall:>14.0f}{result['iterations']:>12}"
            f"{result['engine_steps']:>8}"
        )
        print(
            f"{'  requests, CPU us per request':<32}{done:>8}{cpu / done * 1e6:>8.0f}"
            f"   peak RSS {peak_rss_mb():.0f} MB"
        )


if __name__ == "__main__":
    main()
