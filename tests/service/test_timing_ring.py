"""The timing ring keeps the last `size` values however they were appended: one at a time
or an iteration's tokens at once (`fill`), across the wrap-around."""

from __future__ import annotations

from llmemu.service.metrics.timings import Ring


def test_fill_wraps_like_single_appends():
    ring = Ring(5)
    ring.fill(1.0, 3)  # slots 0-2
    ring.fill(2.0, 4)  # slots 3, 4, then 0, 1: total 7, the last five are 1, 2, 2, 2, 2
    rows, missed = ring.since(0)
    assert ring.total == 7 and missed == 2
    assert rows[:, 0].tolist() == [1.0, 2.0, 2.0, 2.0, 2.0]
    ring.fill(3.0, 12)  # more than the ring holds: all five are 3
    rows, missed = ring.since(7)
    assert rows[:, 0].tolist() == [3.0] * 5 and missed == 7
