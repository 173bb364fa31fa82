"""`llmemu report RESULT.json -o DIR`: an HTML page with plots of a simulate or sweep result."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Render a simulate or sweep JSON result as an HTML report with plots."""
    p.add_argument("result", help="JSON written by `simulate --out` or `sweep --out`")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="report directory")


def run(args: argparse.Namespace) -> int:
    from llmemu.core.errors import ConfigError
    from llmemu.reports.page import write_report

    path = Path(args.result)
    if not path.exists():
        raise ConfigError(f"result file {str(path)!r} does not exist")
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    print(write_report(result, Path(args.out)))
    return 0


COMMAND = (add_arguments, run)
