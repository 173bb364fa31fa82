"""What `llmemu` costs outside the engine: whole processes of this tree against a git ref.

Cases, each a fresh interpreter, as the `llmemu` console script runs:
- `--version`;
- `simulate TINY --json`: 10 ShareGPT-length requests on h100x1 (the engine's time is near
  0, the lengths CSV of 58,787 rows is still read whole);
- imports: the import time of that simulate process, `-X importtime`'s top-level entries
  summed (every module it loads, lazily or not).
`--scenario FILE` adds `simulate FILE --json` (e.g. benchmarks/scenarios/sharegpt-llama3-8b-h100.yaml).

The ref's `services/` (and setup.py) is exported by `git archive` into a temporary folder.
Both trees are made as an install makes them: bytecode compiled (with PYTHONDONTWRITEBYTECODE
set, as on some hosts, every run would compile every module again, about 0.1 s) and the
engine's C loop built in place where the tree has one. Runs alternate between the two trees
so that the host's drift falls on both alike. CPU seconds (user + system of the child) are
steadier than wall seconds on a busy host; the load average is printed before and after.
Each simulate case checks that both trees print the same JSON (but for wall_s).

Usage: python benchmarks/startup.py [--before main] [--runs 7] [--scenario FILE]
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENTRY = "import sys; from llmemu.cli.main import main; sys.exit(main())"
TINY = """model: llama-3-8b
system: h100x1
workload:
  requests: 10
  arrival: {{kind: poisson, rate: 25}}
  lengths: {{kind: csv, path: {csv}}}
seed: 0
"""


def export(ref: str, into: Path) -> Path:
    """`ref`'s services/ folder (and what builds its extension, if any), extracted under `into`."""
    paths = ["services"]
    has_setup = ["git", "-C", str(REPO), "cat-file", "-e", f"{ref}:setup.py"]
    if subprocess.run(has_setup, capture_output=True).returncode == 0:
        paths += ["setup.py", "pyproject.toml"]  # the package folder is in pyproject.toml
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, *paths], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "services"


def install_like(services: Path) -> None:
    """Compile the tree's bytecode and build its C extension in place, where it has one, as
    an install does: a tree without its compiled engine loop would run the Python engine."""
    compileall.compile_dir(services / "llmemu", quiet=1)
    root = services.parent
    if (root / "setup.py").is_file():
        build = [sys.executable, "setup.py", "-q", "build_ext", "--inplace"]
        subprocess.run(build, cwd=root, capture_output=True, check=True)


def run(services: Path, argv: list[str], importtime: bool = False) -> tuple[float, float, str]:
    """(wall s, CPU s, output) of one `llmemu ARGV` process; with importtime, the output is
    the import time in seconds instead."""
    env = {**os.environ, "PYTHONPATH": str(services)}
    flags = ["-X", "importtime"] if importtime else []
    cmd = [sys.executable, *flags, "-c", ENTRY, *argv]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed under {services}:\n{done.stderr[-2000:]}")
    return wall, cpu, str(top_level_import_s(done.stderr)) if importtime else done.stdout


def top_level_import_s(report: str) -> float:
    """Sum of the cumulative microseconds of `-X importtime`'s outermost imports, in s."""
    total = 0
    for line in report.splitlines():
        parts = line.split("|")
        outermost = len(parts) == 3 and parts[2].startswith(" ") and parts[2][1:2] != " "
        if outermost and parts[1].strip().isdigit():
            total += int(parts[1])
    return total / 1e6


def same_result(a: str, b: str) -> bool:
    left, right = json.loads(a), json.loads(b)
    for summary in (left, right):
        summary.pop("wall_s", None)
    return left == right


def measure(trees: dict[str, Path], cases: dict[str, list[str]], runs: int) -> dict:
    """{case: {tree: [(wall, cpu, output), ...]}}, the trees alternating within each run."""
    got: dict = {case: {tree: [] for tree in trees} for case in cases}
    for _ in range(runs):
        for case, argv in cases.items():
            for tree, services in trees.items():
                timed = case == "imports"
                got[case][tree].append(run(services, argv, importtime=timed))
    return got


def report(got: dict) -> None:
    print(f"{'case':<22}{'tree':<8}{'wall s':>9}{'CPU s':>9}{'import s':>10}")
    for case, by_tree in got.items():
        medians = {}
        for tree, samples in by_tree.items():
            wall = statistics.median(s[0] for s in samples)
            cpu = statistics.median(s[1] for s in samples)
            imp = statistics.median(float(s[2]) for s in samples) if case == "imports" else None
            medians[tree] = (wall, cpu, imp)
            shown = f"{imp:10.3f}" if imp is not None else f"{'':>10}"
            print(f"{case:<22}{tree:<8}{wall:9.3f}{cpu:9.3f}{shown}")
        (bw, bc, bi), (aw, ac, ai) = medians["before"], medians["after"]
        ratio = f"after/before: wall {aw / bw:.2f}, CPU {ac / bc:.2f}"
        print(f"{'':<22}{ratio}" + (f", imports {ai / bi:.2f}" if bi else ""))
        if case.startswith("simulate"):
            same = same_result(by_tree["before"][0][2], by_tree["after"][0][2])
            print(f"{'':<22}same JSON (but wall_s): {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="git ref to compare with (default main)")
    parser.add_argument("--runs", type=int, default=7, help="processes per case and tree")
    parser.add_argument("--scenario", help="also time `simulate FILE --json`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.yaml"
        tiny.write_text(TINY.format(csv=REPO / "data" / "sharegpt_lengths.csv"))
        trees = {"before": export(args.before, Path(tmp)), "after": REPO / "services"}
        for services in trees.values():
            install_like(services)
        cases = {
            "--version": ["--version"],
            "simulate tiny": ["simulate", str(tiny), "--json"],
            "imports": ["simulate", str(tiny), "--json"],
        }
        if args.scenario:
            cases["simulate scenario"] = ["simulate", str(Path(args.scenario).resolve()), "--json"]
        print(f"load average before: {os.getloadavg()}; {args.runs} runs, before = {args.before}")
        got = measure(trees, cases, args.runs)
        report(got)
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
