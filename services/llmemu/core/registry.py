"""Named strategies: one lookup that turns an unknown name into an error listing the valid ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from llmemu.core.errors import ConfigError

T = TypeVar("T")


def lookup(table: Mapping[str, T], name: str, field: str) -> T:
    """`table[name]`, or a ConfigError naming the scenario field and the valid names."""
    try:
        return table[name]
    except KeyError:
        valid = ", ".join(sorted(table))
        raise ConfigError(f"unknown {field} {name!r}; choose one of: {valid}") from None
