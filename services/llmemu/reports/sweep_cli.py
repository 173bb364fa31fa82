"""`llmemu sweep SCENARIO --grid key=v1,v2,...`: one scenario over a grid of overrides."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llmemu.cli.argtypes import positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Run a scenario over a grid of --set values (parallel, or on a Dask cluster)."""
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="a scenario key and its values, e.g. workload.arrival.rate=2,4,8 (repeatable: "
        "the sweep runs every combination)",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed override")
    p.add_argument("--out", help="directory for sweep.json and sweep.csv")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--jobs", type=positive_int, help="local worker processes (default: every core)")
    p.add_argument("--cluster", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--report", metavar="DIR", help="also write an HTML report to DIR")


def run(args: argparse.Namespace) -> int:
    from llmemu.cli.files import read_yaml
    from llmemu.cli.progress import Progress
    from llmemu.core.errors import ConfigError
    from llmemu.reports.grid import parse_grid
    from llmemu.reports.sweep import sweep
    from llmemu.reports.table import render_table, to_csv

    grid = parse_grid(args.grid)
    path = Path(args.scenario)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with model, system and workload keys")
    result = sweep(
        data,
        str(path.parent.resolve()),
        str(path),
        grid,
        sets=args.set,
        jobs=args.jobs,
        cluster=args.cluster,
        progress=Progress("sweep"),
    )
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "sweep.json").write_text(json.dumps(result, indent=1) + "\n")
        (out / "sweep.csv").write_text(to_csv(result))
    if args.report:
        from llmemu.reports.page import write_report

        write_report(result, Path(args.report))
    print(json.dumps(result, indent=1) if args.json else render_table(result))
    return 0


COMMAND = (add_arguments, run)
