"""`llmemu`: simulate scenarios, explain one iteration, list presets (and more, listed in
cli/commands.py and imported only when chosen). Errors the user can fix print one line and
exit with 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from llmemu.cli import commands
from llmemu.core.errors import LlmemuError

Command = tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


DESCRIPTION = (
    "Emulate LLM serving on hardware that may not exist yet (GPUs, PIM, edge clusters): "
    "offline in virtual time, or live as an OpenAI-compatible server. "
    "`llmemu COMMAND --help` for each command."
)


def _add_simulate(p: argparse.ArgumentParser) -> None:
    """run a scenario offline in virtual time and print its latencies and throughput"""
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key, e.g. workload.arrival.rate=20",
    )
    p.add_argument("--out", help="also write the JSON result to this file")
    p.add_argument("--report", metavar="DIR", help="also write an HTML report with plots to DIR")
    p.add_argument(
        "--requests-out", metavar="FILE", help="also write one CSV row per finished request"
    )


def _compiled() -> bool:
    """LLMEMU_ENGINE=python runs the Python engine where the compiled loop would run
    (core/fastcore.py): the reference, for comparing and timing."""
    return os.environ.get("LLMEMU_ENGINE", "") != "python"


def _run_simulate(args: argparse.Namespace) -> int:
    # pydantic reads every installed distribution's entry points for plugins when it builds
    # its first validator (about 15 ms; llmemu's specs use none). Set it empty to keep them.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from llmemu.cli.files import load_scenario
    from llmemu.cli.fleet_needed import needs_fleet
    from llmemu.cli.nanoflow_auto import with_searched_pipeline
    from llmemu.cli.progress import Progress
    from llmemu.cli.render import policy_report, render_summary
    from llmemu.core.batching import check_settings
    from llmemu.core.replica import build_replica
    from llmemu.core.results import itl_distribution, summarize
    from llmemu.core.simulate import run
    from llmemu.reports.detail import details

    start = time.perf_counter()
    loaded = load_scenario(args.scenario, args.set)
    if needs_fleet(loaded):
        from llmemu.cli.fleet import simulate_fleet

        summary = simulate_fleet(
            loaded, Progress("simulating"), start, args.requests_out, compiled=_compiled()
        )
        searched = None
    else:
        workload = loaded.workload()
        check_settings(loaded.spec.policy)  # a refused setting stops before any search runs
        loaded, searched = with_searched_pipeline(loaded, workload)
        replica = build_replica(
            loaded.model, loaded.system, loaded.spec.policy, seed=loaded.spec.seed
        )
        progress = Progress("simulating")
        result = run(replica, workload, progress, keep_requests=False, compiled=_compiled())
        itl = itl_distribution(result.recorder)  # the summary's and the report's
        summary = summarize(result, time.perf_counter() - start, itl)
        if args.requests_out:
            Path(args.requests_out).write_text("\n".join(result.log.csv_lines()) + "\n")
        summary.update(details(result, itl))  # distributions, utilisation over time, one iteration
    summary["policy"] = policy_report(loaded.spec.policy, loaded.policy_from_system, loaded.system.name)  # fmt: skip
    summary["policy"]["searched_pipeline"] = searched
    text = json.dumps(summary, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.report:
        from llmemu.reports.page import write_report

        write_report(summary, Path(args.report))
    print(text if args.json else render_summary(summary))
    return 0


def _add_explain(p: argparse.ArgumentParser) -> None:
    """price one iteration's operations: FLOPs, bytes, Op/B, device and time of each"""
    p.add_argument("--model", required=True, help="preset, Hugging Face id, config.json or model folder")  # fmt: skip
    p.add_argument("--system", required=True, help="system preset, e.g. h100x1, duplex-4")
    p.add_argument("--decode-requests", type=int, default=0, help="decoding requests in the batch")
    p.add_argument("--context", type=int, default=0, help="context tokens of each decoding request")
    p.add_argument(
        "--prefill-tokens", type=int, default=0, help="tokens of one prompt being prefilled"
    )
    p.add_argument("--ideal", action="store_true", help="efficiencies 1 and no overheads")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="policy override, e.g. routing=opb (keys of the scenario's policy)",
    )
    p.add_argument(
        "--dtype", help="fp16, bf16, fp32, or fp8 (FP8 weights and KV cache), for the model's own"
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeline", metavar="PNG", help="also draw the iteration's first layers")


def _run_explain(args: argparse.Namespace) -> int:
    from llmemu.cli.explain import explain
    from llmemu.cli.render import render_explain

    report = explain(args)
    print(json.dumps(report, indent=2) if args.json else render_explain(report))
    return 0


def _add_presets(p: argparse.ArgumentParser) -> None:
    """list the model, device, system and engine-profile presets"""
    p.add_argument("--json", action="store_true")


def _run_presets(args: argparse.Namespace) -> int:
    from llmemu.core import presets
    from llmemu.core.catalog import system_names

    listing = {
        "models": list(presets.names("models")),
        "devices": list(presets.names("devices")),
        "systems": system_names(),
        "engines": list(presets.names("engines")),
    }
    if args.json:
        print(json.dumps(listing, indent=2))
    else:
        for kind, names in listing.items():
            print(f"{kind}:")
            print("  " + "\n  ".join(names))
    return 0


COMMANDS: dict[str, Command] = {
    "simulate": (_add_simulate, _run_simulate),
    "explain": (_add_explain, _run_explain),
    "presets": (_add_presets, _run_presets),
}


def _command(name: str) -> Command:
    return COMMANDS[name] if name in COMMANDS else commands.load(name)


def _helps() -> dict[str, str]:
    """Every command's one-line help, without importing the plugins' modules."""
    builtin = {name: (add.__doc__ or "").strip() for name, (add, _) in COMMANDS.items()}
    return builtin | {name: text for name, (_, text) in commands.PLUGINS.items()}


def _chosen(argv: list[str]) -> str:
    """The command named on the line (the first word that is not an option), or ""."""
    return next((a for a in argv if not a.startswith("-")), "")


class _Version(argparse.Action):
    """--version, which reads the installed metadata only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):  # fmt: skip
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"llmemu {_version()}")
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with `only`, of that command alone when it names one
    (else every command is listed and none built), so that a command line imports the module
    of the command it names and builds no other's arguments."""
    parser = argparse.ArgumentParser(prog="llmemu", description=DESCRIPTION)
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    helps = _helps()
    for name in [only] if only in helps else helps:
        p = sub.add_parser(name, help=helps[name] or None)
        if only is None or name == only:
            _command(name)[0](p)
    return parser


def _one_line(message: str, limit: int = 280) -> str:
    """An error as one line a terminal shows whole, however long the value it quotes."""
    line = " ".join(message.splitlines())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llmemu")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def main(argv: list[str] | None = None) -> int:
    # numpy serves small vectors here, never large BLAS work: OpenBLAS's worker threads only
    # cost start-up time and contend with the simulation on a small machine.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_chosen(argv)).parse_args(argv)
    try:
        return _command(args.command)[1](args)
    except LlmemuError as exc:
        print(f"llmemu {args.command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the user gave: a directory, unreadable, missing parent
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"llmemu {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"llmemu {args.command}: error: a file given is not UTF-8 text", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
