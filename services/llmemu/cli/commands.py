"""Subcommands beyond simulate/explain/presets, each defined beside its subsystem.

Add one line per command module; each module exposes `COMMAND = (add_arguments, run)` and
imports nothing heavy at module level (the parser imports every command module at start).
"""

from __future__ import annotations

import importlib

_MODULES = {
    # "serve": "llmemu.service.cli",
}


def register(commands: dict) -> None:
    for name, module in _MODULES.items():
        commands[name] = importlib.import_module(module).COMMAND
