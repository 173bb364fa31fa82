"""Named presets: YAML files shipped inside the package, validated on load.

Reading package data is I/O, but of files that are part of the code; the loaders are pure
with respect to the caller's environment. A user's own files (HF config.json, scenario
YAML) are read at the CLI edge and passed in as dicts.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from llmemu.core.data_limits import load_yaml
from llmemu.core.errors import ConfigError

KINDS = ("models", "devices", "systems", "engines")


def _folder(kind: str):
    return resources.files(__package__).joinpath(kind)


@cache
def names(kind: str) -> tuple[str, ...]:
    """Sorted preset names of one kind (file stems)."""
    return tuple(sorted(p.name[:-5] for p in _folder(kind).iterdir() if p.name.endswith(".yaml")))


@cache
def raw(kind: str, name: str) -> dict[str, Any]:
    """The YAML mapping of one preset; unknown names raise ConfigError listing the valid ones."""
    if name not in names(kind):
        valid = ", ".join(names(kind))
        raise ConfigError(f"unknown {kind[:-1]} preset {name!r}; choose one of: {valid}")
    data = load_yaml(_folder(kind).joinpath(f"{name}.yaml").read_text())
    data.setdefault("name", name)
    return data
