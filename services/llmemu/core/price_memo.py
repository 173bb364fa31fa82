"""Memoised pricing of decode-only batches: a line in the summed context, checked.

A decode-only batch is priced by (requests, logits, summed context); between arrivals the
first two stay put while the context grows by one token per request per iteration, so
nearly every iteration has a new context and an exact memo would never hit. On one
processor (`xpu-only` routing, a `stages` or `serial` timeline) the iteration's duration is
a sum of max(FLOPs / rate, bytes / bandwidth) + overhead over ops whose FLOPs and bytes are
affine in the context: a convex, piecewise-affine function. For such a function, three
points on one line prove it affine between the outer two, and a further point on the line
extends that range. So each (requests, logits) key is priced exactly until three contexts
agree on a line (to 1e-12 relative); then contexts inside the checked range are read off the
line, and one outside it is priced exactly and widens the range if it lies on the line, or
retires the key to exact pricing for good if it does not. Everything else (prompt chunks,
sampled expert routing, per-request contexts) is priced exactly.
"""

from __future__ import annotations

from collections.abc import Callable

from llmemu.core.ops import BatchShape
from llmemu.core.pricing import IterationCost, ProcessorWork

REL = 1e-12


class DecodeLine:
    def __init__(self) -> None:
        self._keys: dict[tuple[int, int], _Key] = {}

    def price(self, batch: BatchShape, exact: Callable[[BatchShape], IterationCost]):
        if batch.prefill_chunks or batch.expert_tokens is not None:
            return exact(batch)
        if batch.decode_contexts is not None:
            return exact(batch)
        key = self._keys.get((batch.num_decode, batch.num_logits))
        if key is None:
            key = self._keys[(batch.num_decode, batch.num_logits)] = _Key()
        context = batch.decode_context
        if key.lo is not None and key.lo <= context <= key.hi:
            return key.at(context)
        cost = exact(batch)
        if not key.retired:
            key.add(context, cost)
        return cost


class _Key:
    """The points seen for one (requests, logits), then the line they lie on."""

    def __init__(self) -> None:
        self.points: list[tuple[int, IterationCost]] = []
        self.lo: int | None = None
        self.hi = 0
        self.retired = False

    def add(self, context: int, cost: IterationCost) -> None:
        if self.lo is None:
            if any(c == context for c, _ in self.points):
                return
            self.points.append((context, cost))
            if len(self.points) == 3:
                self.points.sort(key=lambda p: p[0])
                (c0, a), (c1, b), (c2, z) = self.points
                if _on_line(a, z, (c1 - c0) / (c2 - c0), b):
                    self.points = [self.points[0], self.points[2]]
                    self.lo, self.hi = c0, c2
                else:
                    self.retired = True
            return
        (c0, a), (c2, z) = self.points
        if _on_line(a, z, (context - c0) / (c2 - c0), cost):
            self.lo, self.hi = min(self.lo, context), max(self.hi, context)
        else:
            self.retired, self.lo = True, None

    def at(self, context: int) -> IterationCost:
        (c0, a), (c2, z) = self.points
        t = (context - c0) / (c2 - c0)
        work = {name: _mix(w, z.work[name], t) for name, w in a.work.items()}
        return IterationCost(a.duration_s + (z.duration_s - a.duration_s) * t, work)


def _mix(a: ProcessorWork, z: ProcessorWork, t: float) -> ProcessorWork:
    return ProcessorWork(
        a.busy_s + (z.busy_s - a.busy_s) * t,
        a.flops + (z.flops - a.flops) * t,
        a.bytes + (z.bytes - a.bytes) * t,
        a.write_bytes + (z.write_bytes - a.write_bytes) * t,
        dict(a.ops_by_kind),
        {k: v + (z.seconds[k] - v) * t for k, v in a.seconds.items()},
    )


def _close(x: float, y: float) -> bool:
    return abs(x - y) <= REL * max(abs(x), abs(y), 1e-300)


def _on_line(a: IterationCost, z: IterationCost, t: float, got: IterationCost) -> bool:
    """Whether `got` is a + t * (z - a) in duration and in every processor's work."""
    if a.work.keys() != z.work.keys() or got.work.keys() != a.work.keys():
        return False
    if not _close(a.duration_s + (z.duration_s - a.duration_s) * t, got.duration_s):
        return False
    for name, w in a.work.items():
        mid = _mix(w, z.work[name], t)
        g = got.work[name]
        if g.ops_by_kind != w.ops_by_kind or w.ops_by_kind != z.work[name].ops_by_kind:
            return False
        if g.seconds.keys() != w.seconds.keys() or z.work[name].seconds.keys() != w.seconds.keys():
            return False
        pairs = [(mid.busy_s, g.busy_s), (mid.flops, g.flops), (mid.bytes, g.bytes)]
        pairs += [(mid.write_bytes, g.write_bytes)]
        pairs += [(mid.seconds[k], g.seconds[k]) for k in w.seconds]
        if not all(_close(x, y) for x, y in pairs):
            return False
    return True
