"""Sweep grids: `--grid key=v1,v2,...` options and their cartesian product."""

from __future__ import annotations

import itertools
from typing import Any

import yaml

from llmemu.core.errors import ConfigError


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """`workload.arrival.rate=2,4,8` -> {"workload.arrival.rate": [2, 4, 8]}. Each value is
    read as YAML, like a `--set` value; a key may appear only once."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise ConfigError(f"--grid {item!r}: expected key.path=v1,v2,...")
        if key in grid:
            raise ConfigError(f"--grid {key!r} is given twice; list all its values in one --grid")
        values = []
        for part in text.split(","):
            try:
                values.append(yaml.safe_load(part.strip()))
            except yaml.YAMLError:
                raise ConfigError(f"--grid {key}: value {part!r} is not valid YAML") from None
        grid[key] = values
    if not grid:
        raise ConfigError("sweep needs at least one --grid key=v1,v2,...")
    return grid


def points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination, the first key varying slowest (like nested loops in key order)."""
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def overrides(params: dict[str, Any]) -> list[str]:
    """The `--set` strings of one grid point (values written back as YAML flow scalars)."""
    return [f"{key}={_yaml_scalar(value)}" for key, value in params.items()]


def _yaml_scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...").strip()
