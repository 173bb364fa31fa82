"""A replica's load picture: batch size and KV usage averaged over bins of virtual time."""

from __future__ import annotations

import pytest

from llmemu.core.fleet.load import LoadSeries


def test_steps_inside_a_bin_and_across_two():
    s = LoadSeries()
    s.add(0.000, 0.004, batch=2, kv_usage=0.5)
    s.add(0.004, 0.008, batch=4, kv_usage=0.5)
    s.add(0.008, 0.012, batch=1, kv_usage=1.0)  # half in bin 0 (0-10 ms), half in bin 1
    t = s.to_dict(0.02)
    assert t["bin_s"] == 0.01
    # Bin 0: 2 x 4 ms + 4 x 4 ms + 1 x 2 ms = 26 request-ms over 10 ms; bin 1: 1 x 2 ms.
    assert t["utilization"]["batch"] == pytest.approx([2.6, 0.2])
    # KV: 0.5 x 8 ms + 1.0 x 2 ms = 6 ms over 10 ms; then 1.0 x 2 ms.
    assert t["utilization"]["kv"] == pytest.approx([0.6, 0.2])


def test_a_step_past_the_last_bin_coarsens_what_was_summed():
    s = LoadSeries()
    s.add(0.000, 0.005, batch=10, kv_usage=0.0)  # held back: inside bin 0
    s.add(0.005, 0.010, batch=20, kv_usage=0.0)
    s.add(1.270, 1.290, batch=1, kv_usage=0.0)  # 128 bins of 10 ms end at 1.28 s: doubles
    t = s.to_dict(1.30)
    assert t["bin_s"] == 0.02
    # Bin 0 (0-20 ms): 10 x 5 + 20 x 5 = 150 request-ms over 20 ms.
    assert t["utilization"]["batch"][0] == pytest.approx(7.5)
    # 1.27-1.28 s lands in bin 63 (1.26-1.28), 1.28-1.29 in bin 64, whose run covers 20 ms.
    assert t["utilization"]["batch"][63] == pytest.approx(10 / 20)
    assert t["utilization"]["batch"][64] == pytest.approx(10 / 20)
