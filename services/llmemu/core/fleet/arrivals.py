"""When the fleet's requests arrive: a fixed schedule, turns that follow their previous
turn's answer after a think time, a closed loop fed by completions, and prefilled requests
waiting to hand their KV over. One heap holds everything that is not on the fixed schedule."""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from llmemu.core.fleet.members import FleetRequest
from llmemu.core.fleet.workload import FleetWorkload

CHUNK = 4096
"""Entries of a column turned into Python numbers at a time, for a schedule read in order."""


class _Chunked:
    """A numpy column read in order as Python numbers, converted CHUNK entries at a time:
    indexing numpy for one scalar costs several times what a list does."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.lo = self.hi = 0
        self.items: list = []

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int):
        if not self.lo <= i < self.hi:
            self.lo, self.hi = i, min(i + CHUNK, len(self.values))
            self.items = self.values[self.lo : self.hi].tolist()
        return self.items[i - self.lo]


class ArrivalQueue:
    def __init__(self, workload: FleetWorkload) -> None:
        self.w = workload
        self.total = len(workload.inputs)
        self.completed = 0
        self.heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        if workload.arrivals is None:
            self.fixed = np.empty(0, dtype=np.int64)
            self._next_closed = min(workload.concurrency, self.total)
            for i in range(self._next_closed):
                self._push(0.0, "arrive", i)
        else:
            self.fixed = np.flatnonzero(~np.isnan(workload.arrivals))
            self._next_closed = self.total
        times = workload.arrivals[self.fixed] if len(self.fixed) else np.empty(0)
        self._times, self._fixed = _Chunked(times), _Chunked(self.fixed)
        self._pos = 0
        # Lengths are read in order only when nothing waits for a completion.
        in_order = self.fixed_only
        self._inputs = _Chunked(workload.inputs) if in_order else workload.inputs
        self._outputs = _Chunked(workload.outputs) if in_order else workload.outputs

    @property
    def fixed_only(self) -> bool:
        """Every arrival is on the fixed schedule: none waits for another's completion."""
        return len(self.fixed) == self.total and self.w.parents is None

    def _push(self, t: float, kind: str, item: Any) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (t, self._seq, kind, item))

    def next_time(self) -> float:
        fixed = self._times[self._pos] if self._pos < len(self._times) else math.inf
        return min(fixed, self.heap[0][0]) if self.heap else fixed

    def pop(self) -> tuple[str, Any]:
        """The earliest event: ("arrive", request index) or ("hand_over", FleetRequest)."""
        fixed = self._times[self._pos] if self._pos < len(self._times) else math.inf
        if self.heap and self.heap[0][0] < fixed:
            _, _, kind, item = heapq.heappop(self.heap)
            return kind, item
        self._pos += 1
        return "arrive", self._fixed[self._pos - 1]

    def request(self, i: int, now: float) -> FleetRequest:
        w = self.w
        return FleetRequest(
            i,
            now,
            int(self._inputs[i]),
            int(self._outputs[i]),
            w.segments[i] if w.segments is not None else None,
            int(w.sessions[i]) if w.sessions is not None else None,
        )

    def hand_over(self, fr: FleetRequest, t: float) -> None:
        self._push(t, "hand_over", fr)

    def done(self, i: int, t: float) -> None:
        """Request i finished (or was turned away) at t: release what waited for it."""
        self.completed += 1
        w = self.w
        if w.parents is not None and i + 1 < self.total and w.parents[i + 1] == i:
            self._push(t + w.think_s, "arrive", i + 1)
        if self._next_closed < self.total:
            self._push(t, "arrive", self._next_closed)
            self._next_closed += 1
