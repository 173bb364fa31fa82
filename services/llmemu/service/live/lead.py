"""When to begin an iteration's burst of writes so that its tokens straddle their moment.

Every token of an iteration is due at one emulated instant, the iteration's end, but a
process writes them one socket after another: at 256 streams on a 2-core host the burst
takes 3-5 ms (a loopback send is 7-10 us of kernel time, wherever the stream's bytes are
formatted). Begun at the due moment, the burst makes the last stream's token late by all of
it and no token early: every client sees latencies too long by half a burst on average.
Begun half a burst before it, the error of each token is spread evenly on both sides of
zero: no worse than half a burst either way, and none on average. That is the schedule that
puts each token nearest its moment, the quantity the pacing error (`|left - due|`)
measures.

The burst's length is not known before it runs, so it is predicted: wall seconds per write
(the median of the last `WINDOW` bursts, which a host's stalls do not move) times the number
of streams to write. A burst starts at most half its iteration early, so that no token
leaves before the iteration it ends has run half its course.
"""

from __future__ import annotations

from collections import deque

WINDOW = 64
"""Bursts whose per-write cost the prediction is the median of."""
MIN_WRITES = 8
"""Bursts of fewer writes teach nothing: their fixed costs dominate."""


class BurstLead:
    def __init__(self) -> None:
        self._per_write_s: deque[float] = deque(maxlen=WINDOW)
        self.per_write_s = 0.0
        """The predicted wall seconds of one write (0 until a burst has been seen)."""

    def lead_s(self, writes: int, iteration_wall_s: float) -> float:
        """Wall seconds before its due moment to begin a burst of `writes` writes."""
        return min(0.5 * self.per_write_s * writes, 0.5 * iteration_wall_s)

    def observe(self, writes: int, took_s: float) -> None:
        """A burst of `writes` writes took `took_s` wall seconds."""
        if writes >= MIN_WRITES:
            self._per_write_s.append(took_s / writes)
            ordered = sorted(self._per_write_s)
            self.per_write_s = ordered[len(ordered) // 2]
