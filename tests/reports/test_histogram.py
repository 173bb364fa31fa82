"""Latency histograms of a report (reports/detail.py)."""

from __future__ import annotations

import numpy as np

from llmemu.reports.detail import NUM_BINS, histogram


def test_values_equal_but_for_float_rounding_make_one_narrow_range():
    # A closed loop of constant lengths gives every request the same TTFT up to rounding:
    # 2.5 and 2.5 + 4.4e-16 once raised "Too many bins for data range".
    values = np.array([2.5, 2.5 + 4.4e-16, 2.5])
    out = histogram(values)
    assert len(out["counts"]) == NUM_BINS and sum(out["counts"]) == 3
    assert out["edges_s"][0] == 2.5 and out["edges_s"][-1] == 2.5 + 2.5e-6


def test_distinct_values_fill_bins_between_their_extremes():
    out = histogram(np.array([0.0, 1.0, 4.0]))
    assert out["edges_s"][0] == 0.0 and out["edges_s"][-1] == 4.0
    assert out["counts"][0] == 1 and out["counts"][10] == 1 and out["counts"][-1] == 1
