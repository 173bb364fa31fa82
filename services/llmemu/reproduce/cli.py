"""`llmemu reproduce NAME`: run one paper's settings and print its claims next to the
emulator's values, with the relative error and whether each falls in its accepted band."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llmemu.cli.argtypes import positive_int
from llmemu.reproduce import EXPERIMENTS


def add_arguments(p: argparse.ArgumentParser) -> None:
    """reproduce a paper's claims"""
    p.add_argument("experiment", choices=sorted(EXPERIMENTS), help="which paper")
    p.add_argument("--json", action="store_true", help="print the claims as JSON")
    p.add_argument(
        "--quick", action="store_true", help="a reduced grid (seconds; not the paper's sweep)"
    )
    p.add_argument("--jobs", type=positive_int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--ideal",
        action="store_true",
        help="peak rates and no overheads, as the papers' simulators",
    )
    p.add_argument("--out", help="also write what is printed to this file")
    p.add_argument("--report", metavar="DIR", help="also write bar charts (paper vs llmemu) to DIR")


def run(args: argparse.Namespace) -> int:
    from llmemu.cli.progress import Activity
    from llmemu.reproduce import Options, run_experiment
    from llmemu.reproduce.table import render

    options = Options(quick=args.quick, jobs=max(1, args.jobs), ideal=args.ideal)
    hint = "" if args.quick else "(--quick: a reduced grid; --jobs N: N processes)"
    with Activity(f"reproduce {args.experiment}", hint):
        claims = run_experiment(args.experiment, options)
    if args.json:
        text = json.dumps(
            {
                "experiment": args.experiment,
                "options": {"quick": options.quick, "ideal": options.ideal},
                "claims": [c.as_dict() for c in claims],
            },
            indent=2,
        )
    else:
        text = render(args.experiment, options, claims)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.report:
        from llmemu.reports.claims_page import write_claims_report

        title = f"llmemu reproduce {args.experiment}"
        write_claims_report(claims, Path(args.report), title, args.experiment)
    return 0


COMMAND = (add_arguments, run)
