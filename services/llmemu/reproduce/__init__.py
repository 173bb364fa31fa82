"""Reproductions of published claims: `llmemu reproduce NAME` runs the paper's settings
and prints, for each claim, the paper's value, the emulated value and the relative error.

The registry maps an experiment's name to "module:function"; the function takes Options and
returns a list of Claim rows. Modules are imported only when their experiment runs, so
adding one (nanoflow, tpi-llm...) is one line here and one module beside this file.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import asdict, dataclass

from llmemu.core.errors import ConfigError

EXPERIMENTS: dict[str, str] = {
    "duplex": "llmemu.reproduce.duplex:claims",
    "neupims": "llmemu.reproduce.neupims:claims",
    "tpi-llm": "llmemu.reproduce.tpi_llm:claims",
    "nanoflow": "llmemu.reproduce.nanoflow:claims",
}


@dataclass(frozen=True)
class Options:
    """How an experiment runs."""

    quick: bool = False
    """A reduced grid (tests, smoke runs); its numbers are not the paper's sweep."""
    jobs: int = 1
    """Worker processes for independent simulations."""
    ideal: bool = False
    """Peak rates, no overheads: what the papers' own analytic simulators assume."""


@dataclass(frozen=True)
class Claim:
    """One published number next to what the emulator gives for the same setting."""

    claim: str
    paper: float | None
    """The published value; None for a context row the paper does not state."""
    emulated: float
    unit: str = "x"
    note: str = ""
    low: float | None = None
    """Acceptance band, inclusive (None: no band)."""
    high: float | None = None

    @property
    def rel_error(self) -> float | None:
        if self.paper is None or self.paper == 0 or math.isnan(self.emulated):
            return None
        return (self.emulated - self.paper) / self.paper

    @property
    def within(self) -> bool | None:
        """Whether the emulated value falls in the acceptance band (None: no band)."""
        if self.low is None or self.high is None:
            return None
        return self.low <= self.emulated <= self.high

    def as_dict(self) -> dict:
        return {**asdict(self), "rel_error": self.rel_error, "within": self.within}


def band(paper: float, tolerance: float) -> dict[str, float]:
    """low/high keywords for a claim accepted within +-tolerance of the paper's value."""
    return {"low": paper * (1 - tolerance), "high": paper * (1 + tolerance)}


def run_experiment(name: str, options: Options) -> list[Claim]:
    if name not in EXPERIMENTS:
        valid = ", ".join(sorted(EXPERIMENTS))
        raise ConfigError(f"unknown experiment {name!r}; choose one of: {valid}")
    module, _, function = EXPERIMENTS[name].partition(":")
    return getattr(importlib.import_module(module), function)(options)
