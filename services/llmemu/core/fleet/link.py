"""A link that KV caches cross between a prefill and a decode replica.

Each transfer waits the link's latency, then its bytes flow; flows in progress share the
bandwidth equally (processor sharing), so n concurrent transfers each see bandwidth / n.
Between two events the rates are constant, so the link is advanced event to event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

EPS_BYTES = 1e-6
"""Bytes left below which a flow counts as done (float residue of the sharing arithmetic)."""


@dataclass(slots=True)
class Transfer:
    start_s: float
    ready_s: float
    """When the latency has passed and bytes start to flow."""
    nbytes: float
    left: float
    payload: Any
    done_s: float = math.nan


class SharedLink:
    def __init__(self, bandwidth_bytes_per_s: float, latency_s: float) -> None:
        self.bandwidth = bandwidth_bytes_per_s
        self.latency = latency_s
        self.now = 0.0
        self.flows: list[Transfer] = []
        self.done: list[Transfer] = []

    def start(self, now: float, nbytes: float, payload: Any) -> Transfer:
        self.advance(now)
        t = Transfer(now, now + self.latency, nbytes, nbytes, payload)
        self.flows.append(t)
        return t

    def next_event_s(self) -> float:
        """When a flow starts or ends next, at today's sharing (inf: the link is idle)."""
        active = [f for f in self.flows if f.ready_s <= self.now]
        waiting = [f.ready_s for f in self.flows if f.ready_s > self.now]
        ends = []
        if active:
            rate = self.bandwidth / len(active)
            ends = [self.now + min(f.left for f in active) / rate]
        return min([*waiting, *ends], default=math.inf)

    def advance(self, until: float) -> list[Transfer]:
        """Move the link to `until`; the transfers that finished on the way, in order."""
        finished: list[Transfer] = []
        while self.flows:
            t = min(self.next_event_s(), until)
            if t <= self.now and t == until:
                break
            active = [f for f in self.flows if f.ready_s <= self.now]
            if active:
                moved = (t - self.now) * self.bandwidth / len(active)
                for f in active:
                    f.left -= moved
            self.now = t
            for f in [f for f in active if f.left <= EPS_BYTES * max(1.0, f.nbytes)]:
                f.done_s = t
                self.flows.remove(f)
                finished.append(f)
            if t >= until:
                break
        self.now = max(self.now, until)
        self.done.extend(finished)
        return finished
