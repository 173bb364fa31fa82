"""Numbers for people: enough significant digits that a small value does not print as 0."""

from __future__ import annotations

import math


def sig(value: float, digits: int = 3, decimals: int = 1) -> str:
    """`value` with `decimals` decimals, or more where it is small, so that at least `digits`
    significant digits show: 2016.8, 7.88, 0.0421 (not 0.0), 0.000123."""
    if value == 0 or not math.isfinite(value):
        return f"{value:.{decimals}f}"
    needed = digits - 1 - math.floor(math.log10(abs(value)))
    return f"{value:.{max(decimals, needed)}f}"
