"""How fast the offline simulator runs: whole processes, median of N, wall and CPU seconds.

(a) 10,000 ShareGPT-length requests, Llama-3-8B on one H100, Poisson 25 req/s.
(b) Vidur's workload: CodeLlama-34B from its HF config on a100x2 (TP 2), 4,000 requests
    (Poisson 2 req/s, Splitwise conversation lengths, benchmarks/vidur_trace.py), at most
    128 sequences and 4,096 tokens per batch. `--vidur PYTHON --vidur-dir DIR` runs Vidur
    0.0.26 (PYTHON: an interpreter with vidur installed, kept out of this project's
    dependencies; DIR: a Vidur checkout prepared by benchmarks/vidur_setup.py) on the same
    requests, alternating with llmemu, and prints the ratio of the medians. One untimed run
    of each first prints what both simulated (requests, tokens, makespan) and fills Vidur's
    predictor cache.
(c) 1,000,000 ShareGPT-length requests over 64 h100x1 replicas, round-robin, Poisson at
    80 % of the fleet's capacity (the scenario derives it): the fleet driver through
    `llmemu simulate --json`, run once, with the process's peak RSS. `--skip-c` leaves it
    out, `--only-c` runs it alone; `--c-requests N` runs it with N requests at the same rate.

A fixed pure-Python loop is timed first: this shared host's speed drifts (by 10x under
load), so each report carries it and runs taken at different times compare by it. CPU
seconds (user + system of the child) are steadier than wall seconds on a busy host.

`--python` also times (a) and (b) with LLMEMU_ENGINE=python (the Python engine the compiled
loop transcribes, core/fastcore.py), alternating, and prints the ratio.

Usage: python benchmarks/sim_speed.py [--repeat 5] [--skip-c | --only-c] [--c-requests N]
                                      [--python] [--vidur PYTHON --vidur-dir DIR]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import vidur_side
import vidur_trace

HERE = Path(__file__).resolve().parent
CASE_B = "b: vidur codellama-34b a100x2"
CASES = {
    "a: sharegpt llama-3-8b h100x1": HERE / "scenarios" / "sharegpt-llama3-8b-h100.yaml",
    CASE_B: HERE / "scenarios" / "vidur-codellama34b-a100x2.yaml",
}
FLEET = HERE / "scenarios" / "fleet-sharegpt-64xh100.yaml"


def timed(cmd: list[str], cwd: Path | None = None, env=None) -> tuple[float, float, str, str]:
    """(wall s, CPU s, stdout, stderr) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])} exited {out.returncode}:\n{out.stderr[-3000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, out.stdout, out.stderr


def simulate(scenario: Path, *extra: str, env=None) -> tuple[float, float, dict]:
    cmd = [sys.executable, "-m", "llmemu.cli.main", "simulate", str(scenario), "--json", *extra]
    wall, cpu, out, _ = timed(cmd, env=env)
    return wall, cpu, json.loads(out)


PYTHON_ENGINE = {**os.environ, "LLMEMU_ENGINE": "python"}
"""The environment that makes `llmemu simulate` run the Python engine (core/fastcore.py)."""


def peak_rss_mb() -> float:
    """The largest peak RSS of any child so far (Linux: ru_maxrss in KiB); case (c) runs
    last and uses far more than the others, so this is its own."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def vidur_run(args, tmp: Path, metrics: Path | None = None) -> tuple[float, float, str]:
    """(wall s, CPU s, log) of one Vidur process on case (b)'s requests."""
    cmd = vidur_side.command(args.vidur, tmp / "trace.csv", metrics)
    wall, cpu, out, err = timed(cmd, args.vidur_dir, vidur_side.environment())
    return wall, cpu, out + err


def check_workloads(args, tmp: Path) -> None:
    """One untimed run of each side on case (b): what each simulated, side by side."""
    metrics, requests_csv = tmp / "vidur-metrics", tmp / "llmemu-requests.csv"
    wall, _, log = vidur_run(args, tmp, metrics)
    simulate(CASES[CASE_B], "--requests-out", str(requests_csv))
    print(f"(b) one untimed run each; Vidur's took {wall:.0f} s (it trains its predictor when DIR has no cache)")  # fmt: skip
    print(f"{'':<16}{'requests':>10}{'prompt tok':>12}{'output tok':>12}{'makespan s':>12}")
    for side, (n, prompt, output, span) in (
        ("llmemu", vidur_side.llmemu_totals(requests_csv)),
        ("vidur 0.0.26", vidur_side.vidur_totals(metrics, log)),
    ):
        print(f"  {side:<14}{n:>10}{prompt:>12}{output:>12}{span:>12.1f}")


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
    parser.add_argument(
        "--python", action="store_true", help="also time (a) and (b) on the Python engine"
    )
    parser.add_argument("--vidur", metavar="PYTHON", help="an interpreter with vidur installed")
    parser.add_argument("--vidur-dir", metavar="DIR", type=Path, help="a Vidur checkout")
    args = parser.parse_args()
    if args.vidur and not (args.vidur_dir and (args.vidur_dir / ".vidur_cache").is_dir()):
        parser.error("--vidur needs --vidur-dir DIR prepared by benchmarks/vidur_setup.py")
    with tempfile.TemporaryDirectory() as tmp:
        if args.vidur:
            vidur_trace.vidur_csv(vidur_trace.read(), Path(tmp) / "trace.csv")
            check_workloads(args, Path(tmp))
        run_cases(args, Path(tmp))


def run_cases(args, tmp: Path) -> None:
    # As an install leaves it: under PYTHONDONTWRITEBYTECODE every process would otherwise
    # compile the package's ~80 modules again (about 0.1 s).
    compileall.compile_dir(HERE.parent / "services" / "llmemu", quiet=1)
    print(f"host reference loop (10M additions): {statistics.median(host_speed_s() for _ in range(3)):.3f} s")  # fmt: skip
    print(f"{'case':<32}{'wall s':>8}{'cpu s':>8}{'sim s/wall s':>14}{'iterations':>12}{'steps':>8}")  # fmt: skip
    for name, scenario in {} if args.only_c else CASES.items():
        vidur = name == CASE_B and args.vidur
        runs, theirs, python = [], [], []
        for _ in range(args.repeat):
            runs.append(simulate(scenario))
            if vidur:  # alternate, so that both see the same host
                theirs.append(vidur_run(args, tmp))
            if args.python:
                python.append(simulate(scenario, env=PYTHON_ENGINE))
        wall, cpu = medians(runs)
        result = runs[0][2]
        print(
            f"{name:<32}{wall:>8.2f}{cpu:>8.2f}{result['simulated_s'] / wall:>14.0f}"
            f"{result['iterations']:>12}{result['engine_steps']:>8}"
        )
        if python:
            p_wall, p_cpu = medians(python)
            print(f"{'  python engine (the reference)':<32}{p_wall:>8.2f}{p_cpu:>8.2f}")
            print(f"{'  compiled loop faster by':<32}{p_wall / wall:>7.1f}x{p_cpu / cpu:>7.1f}x")
        if vidur:
            v_wall, v_cpu = medians(theirs)
            span = vidur_side.makespan_s(theirs[0][2])
            print(f"{'  vidur 0.0.26, same requests':<32}{v_wall:>8.2f}{v_cpu:>8.2f}{span / v_wall:>14.0f}")  # fmt: skip
            print(f"{'  llmemu faster by':<32}{v_wall / wall:>7.1f}x{v_cpu / cpu:>7.1f}x")
    if not args.skip_c:
        sets = ["--set", f"workload.requests={args.c_requests}"] if args.c_requests else []
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
