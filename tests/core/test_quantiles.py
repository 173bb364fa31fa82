"""core/quantiles.percentiles against hand arithmetic and against numpy's own percentiles,
which it must equal bit for bit (simulate's --json keys are compared to goldens)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmemu.core.quantiles import percentiles


def test_hand_computed_linear_percentiles():
    # [1, 2, 3, 4]: index (n-1) q = 3 q. p50 at 1.5 -> 2 + 0.5 (3 - 2) = 2.5;
    # p90 at 2.7 -> 3 + 0.7 (4 - 3) = 3.7; p100 at 3 -> 4; p0 -> 1.
    got = percentiles(np.array([4.0, 1.0, 3.0, 2.0]), [50, 90, 100, 0])
    assert got == pytest.approx([2.5, 3.7, 4.0, 1.0], abs=1e-12)


def test_one_value_is_every_percentile():
    assert percentiles(np.array([7.25]), [0, 50, 99]) == [7.25, 7.25, 7.25]


def test_integers_interpolate_to_floats():
    # [10, 20]: p25 at index 0.25 -> 10 + 0.25 * 10 = 12.5.
    assert percentiles(np.array([20, 10], dtype=np.int64), [25]) == [12.5]


def test_a_nan_makes_every_percentile_nan():
    assert all(math.isnan(v) for v in percentiles(np.array([1.0, math.nan]), [50, 90]))


def test_empty_is_refused():
    with pytest.raises(ValueError, match="empty"):
        percentiles(np.empty(0), [50])


@pytest.mark.parametrize("seed", range(6))
def test_equal_to_numpy_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    qs = [50, 90, 99, 0, 100, 12.5, 99.9]
    for n in (1, 2, 3, 7, 10, 101, 1000, 10_001):
        floats = rng.exponential(0.05, n) * 10.0 ** rng.integers(-3, 4)
        ints = rng.integers(0, 5, n)  # many ties
        for values in (floats, ints, np.round(floats, 2)):
            want = [float(v) for v in np.percentile(values, qs)]
            assert percentiles(values, qs) == want, (n, values.dtype)
