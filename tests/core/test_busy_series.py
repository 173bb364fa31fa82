"""BusySeries: busy time spread over bins that double in width as the run grows."""

import pytest

from llmemu.core.busy_series import BusySeries


def test_spreads_steps_over_bins_and_coarsens() -> None:
    series = BusySeries(num_bins=4, bin_s=1.0)
    series.add(0.0, 0.5, {"a": 0.5})  # bin 0 gets 0.5
    # 1.0 s of work over [0.5, 2.5]: half a second in bin 0, a whole one in bin 1, half in
    # bin 2 -> 0.25, 0.5, 0.25.
    series.add(0.5, 2.5, {"a": 1.0})
    assert series.bins["a"] == pytest.approx([0.75, 0.5, 0.25, 0.0])
    # Ends at 5.0 > 4 bins of 1 s: bins become 2 s wide: [1.25, 0.25, 0, 0]. The 2.5 s of
    # work over [2.5, 5.0] puts 1.5/2.5 of it in [2, 4) and 1.0/2.5 in [4, 6).
    series.add(2.5, 5.0, {"a": 2.5})
    assert series.bin_s == 2.0
    assert series.bins["a"] == pytest.approx([1.25, 1.75, 1.0, 0.0])
    # Utilisation over a 5 s run: 1.25/2, 1.75/2, and the last bin covers [4, 5): 1.0/1.
    out = series.to_dict(5.0)
    assert out["t_s"] == [0.0, 2.0, 4.0]
    assert out["utilization"]["a"] == pytest.approx([0.625, 0.875, 1.0])


def test_busy_total_is_kept_when_bins_merge() -> None:
    series = BusySeries(num_bins=2, bin_s=0.5)
    for k in range(10):  # ten 1 s steps, each with 0.4 s of work on "x"
        series.add(float(k), k + 1.0, {"x": 0.4})
    assert sum(series.bins["x"]) == pytest.approx(4.0)
    assert series.bin_s == 8.0  # 0.5 doubled until 2 bins cover 10 s: 0.5->1->2->4->8
