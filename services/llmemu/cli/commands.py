"""Subcommands beyond simulate/explain/presets, each defined beside its subsystem.

Add one line per command module; each module exposes `COMMAND = (add_arguments, run)` and
imports nothing heavy at module level (the parser imports every command module at start).
"""

from __future__ import annotations

import importlib

_MODULES = {
    "serve": "llmemu.cli.serve",
    "tokenizer": "llmemu.cli.tokenizer",
    "bench": "llmemu.cli.bench",
    "sweep": "llmemu.reports.sweep_cli",
    "report": "llmemu.reports.report_cli",
    "reproduce": "llmemu.reproduce.cli",
    "tune": "llmemu.cli.tune",
    "validate": "llmemu.reproduce.validate_cli",
}


def register(commands: dict) -> None:
    for name, module in _MODULES.items():
        try:
            commands[name] = importlib.import_module(module).COMMAND
        except ImportError as exc:
            # One command's missing optional dependency must not take the others down.
            commands[name] = _unavailable(name, exc)


def _unavailable(name: str, exc: ImportError):
    def add(parser) -> None:
        parser.add_argument("args", nargs="*")

    def run(args) -> int:
        from llmemu.core.errors import LlmemuError

        raise LlmemuError(f"{name} is unavailable: {exc}; install the extra it needs")

    return add, run
