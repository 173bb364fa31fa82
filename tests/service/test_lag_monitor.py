"""The pacing-lag monitor's rolling p99 and warning rate, and the exact timing rings."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from llmemu.service.metrics.lag import LagMonitor
from llmemu.service.metrics.timings import Ring, TimingLog


def test_p99_over_the_window_in_emulated_seconds_and_one_warning_a_minute(caplog):
    wall = {"t": 0.0}
    monitor = LagMonitor(speed=0.5, bound_s=0.005, wall=lambda: wall["t"])
    # 100 iterations 20 ms (wall) late over 1 s: 10 ms emulated at speed 0.5, above 5 ms.
    with caplog.at_level(logging.WARNING, logger="llmemu.pacing"):
        for i in range(100):
            wall["t"] = i * 0.01
            assert monitor.observe(0.020) == pytest.approx(0.010)
        monitor.check()
        assert monitor.p99_s == pytest.approx(0.010)
        assert monitor.over and monitor.warnings == 1
        wall["t"] = 30.0  # the window (10 s) holds nothing: no lag, no warning
        monitor.check()
        assert (monitor.p99_s, monitor.over, monitor.warnings) == (0.0, False, 1)
        for t in (31.0, 45.0, 59.0):  # over the bound again, but within a minute of the last
            wall["t"] = t
            monitor.observe(0.1)
            monitor.check()
        assert monitor.over and monitor.warnings == 1
        wall["t"] = 60.5  # over 60 s after the first warning (at the first observation, t = 0)
        monitor.observe(0.1)
        monitor.check()
    assert monitor.warnings == 2
    assert len([r for r in caplog.records if "pacing lag p99" in r.message]) == 2


def test_early_emissions_count_as_no_lag():
    monitor = LagMonitor(speed=1.0, wall=lambda: 0.0)
    assert monitor.observe(-0.003) == 0.0


def test_ring_reports_what_it_no_longer_holds():
    ring = Ring(4)
    for v in range(10):
        ring.append(float(v))
    rows, missed = ring.since(3)  # indexes 3..9 appended; only 6..9 held
    assert rows[:, 0].tolist() == [6.0, 7.0, 8.0, 9.0] and missed == 3
    rows, missed = ring.since(8)
    assert rows[:, 0].tolist() == [8.0, 9.0] and missed == 0


def test_timing_log_percentiles_are_exact_since_the_cursor():
    log = TimingLog(max_requests=100, max_tokens=100, max_iterations=100)
    log.on_request(9.0, 9.0, 9.0, 9.0)  # before the cursor: not counted
    cursor = log.cursor()
    for ttft in (0.010, 0.020, 0.030, 0.040, 0.050):
        log.on_request(ttft, math.nan, ttft + 1, 0.0)
    for gap in (0.0109, 0.0109, 0.0109, 0.0109, 0.5):
        log.gaps.append(gap)
    out = log.summary(**cursor)
    assert out["requests"] == 5
    assert out["ttft_s"]["p50"] == pytest.approx(0.030)  # the middle of five
    assert out["ttft_s"]["mean"] == pytest.approx(0.030)
    # numpy's linear p90 of five values: rank 0.9 * 4 = 3.6, 0.040 + 0.6 * 0.010
    assert out["ttft_s"]["p90"] == pytest.approx(0.046)
    assert math.isnan(out["tpot_s"]["p50"])  # single-token requests have no TPOT
    # ITL p50 is a recorded gap, not a point inside a histogram bucket
    assert out["itl_s"]["p50"] == pytest.approx(0.0109)
    assert out["missed"] == {"requests": 0, "tokens": 0, "iterations": 0}
    assert np.isnan(out["pacing_lag_s"]["max"])
