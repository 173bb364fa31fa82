"""Where `llmemu simulate`'s import time goes, package by package, against the floor that
its third-party packages set on their own.

Each run is a fresh `python -X importtime` process of a 10-request simulate (the tree's
bytecode compiled first, as an install has it). A module's self time is charged to llmemu
when it is an llmemu module (a pydantic model class is built while its module runs, so the
schema building shows there), else to the top-level package of the first non-llmemu module
above it in the import stack: what pydantic imports for itself (importlib.metadata for its
plugin scan, annotated_types...) is pydantic's. The floor is a process that imports numpy,
numpy.random, PyYAML and pydantic and validates one two-field model: no llmemu start-up can
go below it while those packages stay on the simulate path; the same without pydantic shows
what pydantic's share is.

Usage: python benchmarks/import_breakdown.py [--runs 5] [--top 12]
"""

from __future__ import annotations

import argparse
import collections
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from startup import ENTRY as SIMULATE
from startup import TINY

REPO = Path(__file__).resolve().parents[1]
FLOOR = """import numpy, numpy.random, yaml
from pydantic import BaseModel, ConfigDict, Field
class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    rate: float = Field(gt=0)
    name: str = ""
Spec(rate=1.0)
"""
FLOOR_WITHOUT_PYDANTIC = "import numpy, numpy.random, yaml"


def importtime(code: str, argv: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
    cmd = [sys.executable, "-X", "importtime", "-c", code, *argv]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return done.stderr


def by_package(report: str) -> dict[str, float]:
    """Self seconds per owner (see the module's docstring) of one `-X importtime` report."""
    rows = []
    for line in report.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[0].split(":")[1]), parts[2]))
    owners: collections.Counter = collections.Counter()
    stack: list[str] = []
    for self_us, name in reversed(rows):  # the report lists a module after its imports
        depth = (len(name) - len(name.lstrip())) // 2
        stack = [*stack[:depth], name.strip()]
        module = stack[-1]
        if module.startswith("llmemu"):
            owners["llmemu"] += self_us / 1e6
        else:
            first = next(m for m in stack if not m.startswith("llmemu"))
            owners[first.split(".")[0]] += self_us / 1e6
    return dict(owners)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="processes of each kind")
    parser.add_argument("--top", type=int, default=12, help="packages listed")
    args = parser.parse_args()
    compileall.compile_dir(REPO / "services" / "llmemu", quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.yaml"
        tiny.write_text(TINY.format(csv=REPO / "data" / "sharegpt_lengths.csv"))
        argv = ["simulate", str(tiny), "--json"]
        runs = [
            [by_package(importtime(code, a)) for code, a in
             ((SIMULATE, argv), (FLOOR, []), (FLOOR_WITHOUT_PYDANTIC, []))]
            for _ in range(args.runs)
        ]  # fmt: skip
    print(f"load average: {os.getloadavg()}; medians of {args.runs} runs, seconds of self time")
    packages = {p for sim, _, _ in runs for p in sim}
    median = {p: statistics.median(sim.get(p, 0.0) for sim, _, _ in runs) for p in packages}
    total, floor, bare = (statistics.median(sum(r[i].values()) for r in runs) for i in range(3))
    for package, seconds in sorted(median.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {package:<20}{seconds:8.3f}")
    print(f"  {'all':<20}{total:8.3f}")
    print(f"floor (numpy, PyYAML, pydantic and one model): {floor:.3f}")
    print(f"floor without pydantic (numpy, PyYAML): {bare:.3f}")


if __name__ == "__main__":
    main()
