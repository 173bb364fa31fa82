"""Named strategies: one lookup that turns an unknown name into an error listing the valid ones.

A table's entry may be `Deferred("module", "name")`: the strategy's module is imported on
its first lookup, so that a scenario loads the strategy families it uses and no other
(NanoFlow's pipeline and the edge pricer cost tens of ms to import)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from llmemu.core.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Deferred:
    """`module.name`, imported when first looked up."""

    module: str
    name: str

    def load(self) -> Any:
        return getattr(importlib.import_module(self.module), self.name)


def resolve(entry: Any) -> Any:
    """An entry of a table: itself, or what a Deferred names."""
    return entry.load() if isinstance(entry, Deferred) else entry


def lookup(table: Mapping[str, T], name: str, field: str) -> T:
    """`table[name]`, or a ConfigError naming the scenario field and the valid names."""
    try:
        entry = table[name]
    except KeyError:
        valid = ", ".join(sorted(table))
        raise ConfigError(f"unknown {field} {name!r}; choose one of: {valid}") from None
    return resolve(entry)
