"""Percentiles of a 1-D float64 or integer array, equal bit for bit to numpy's default
(`np.percentile(values, q)`, method "linear").

np.percentile calls np.unique, whose first call imports numpy.ma: 65-190 ms, more than the
rest of a short simulation's summary. The same order statistics and the same interpolation
(numpy's `_lerp`, which computes from the upper neighbour when the weight is at least 1/2)
give the same floats; tests/core/test_quantiles.py compares them with numpy's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def percentiles(values: np.ndarray, qs: Sequence[float]) -> list[float]:
    """The q-th percentiles (q in [0, 100]) of a non-empty array; NaN if it holds a NaN."""
    ordered = np.sort(values, axis=None)
    n = ordered.size
    if n == 0:
        raise ValueError("percentiles of an empty array")
    if np.isnan(ordered[-1]):  # NaN sorts last; numpy answers NaN for every q
        return [math.nan] * len(qs)
    return [_at(ordered, (n - 1) * (q / 100)) for q in qs]


def _at(ordered: np.ndarray, index: float) -> float:
    """The value at a fractional index of a sorted array, interpolated as numpy does."""
    below = math.floor(index)
    if index >= ordered.size - 1:
        return float(ordered[-1])
    a, b = ordered[below], ordered[below + 1]
    diff = float(b - a)  # in the array's dtype first, as numpy subtracts
    t = index - below
    return float(b) - diff * (1 - t) if t >= 0.5 else float(a) + diff * t
