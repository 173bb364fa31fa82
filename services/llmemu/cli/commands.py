"""Subcommands beyond simulate/explain/presets, each defined beside its subsystem.

Add one line per command: its module, which exposes `COMMAND = (add_arguments, run)`, and
the one-line help that `llmemu --help` lists. A module is imported only when its command is
chosen (or when every parser is built), so that `llmemu simulate` never pays for the
service's imports; tests/core/test_cli_commands.py keeps each help equal to its
add_arguments docstring.
"""

from __future__ import annotations

import importlib

PLUGINS: dict[str, tuple[str, str]] = {
    "serve": ("llmemu.cli.serve", "serve an OpenAI-compatible endpoint paced in real time"),
    "tokenizer": (
        "llmemu.cli.tokenizer",
        "export the server's tokenizer for clients (guidellm, aiperf, vllm bench)",
    ),
    "bench": ("llmemu.cli.bench", "load-test an endpoint; client-observed vs emulated latencies"),
    "sweep": (
        "llmemu.reports.sweep_cli",
        "Run a scenario over a grid of --set values (parallel, or on a Dask cluster).",
    ),
    "report": (
        "llmemu.reports.report_cli",
        "Render a simulate or sweep JSON result as an HTML report with plots.",
    ),
    "reproduce": ("llmemu.reproduce.cli", "reproduce a paper's claims"),
    "tune": (
        "llmemu.cli.tune",
        "search a NanoFlow pipeline (nano-batches, unit shares) for a scenario",
    ),  # fmt: skip
    "validate": (
        "llmemu.reproduce.validate_cli",
        "emulate published serving measurements (TensorRT-LLM 0.13) and print the errors",
    ),
}


def load(name: str):
    """The `(add_arguments, run)` pair of a plugin command, importing its module."""
    try:
        return importlib.import_module(PLUGINS[name][0]).COMMAND
    except ImportError as exc:
        # One command's missing optional dependency must not take the others down.
        return _unavailable(name, exc)


def _unavailable(name: str, exc: ImportError):
    def add(parser) -> None:
        parser.add_argument("args", nargs="*")

    def run(args) -> int:
        from llmemu.core.errors import LlmemuError

        raise LlmemuError(f"{name} is unavailable: {exc}; install the extra it needs")

    return add, run
