"""NanoFlow's intra-device overlap: nano-operations on resource lanes, each with a share.

A device runs at most one nano-operation per resource lane (compute, memory, network) at a
time, like NanoFlow's GEMM, GEMV and network CUDA streams, so only operations bound by
different resources overlap. Each nano-op is launched on a share R of the device's
execution units (SMs) and keeps it for its whole life (NanoFlow fixes the thread blocks of
every kernel); the shares of the ops running at once never sum past 1, and an op with
share R runs at P(R) of its best speed, so it lasts D / P(R) where D is its time alone on
the whole device (NanoFlow §4.1, stage II).

A nano-op may instead take the REST: the units the fixed-share ops running beside it leave
(split evenly if several such ops run), its speed following them as they start and end.
NanoFlow's stage II gives each GEMM nano-op the share its concurrent GEMV and network
kernels leave (KQV 0.4 beside decode attention, UGD 0.9 beside a network op at 0.1, Fig. 6);
REST is the limit of that assignment for nano-ops cut arbitrarily fine.

P(R) is NanoFlow Table 3: GEMM P = R; GEMV (decode attention) and network kernels
saturate early. The points the paper prints are below; P between them is interpolated
linearly. The GEMV point R = 0.4 -> 0.8 is the paper's Fig. 6 text ("decode attention runs
at R = 0.4 and reaches 80 % of its best performance").
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from llmemu.core.ops import Op


class Resource(StrEnum):
    """The resource that bounds an operation, and the lane (stream) it runs on."""

    COMPUTE = "compute"
    MEMORY = "memory"
    NETWORK = "network"


# (R, P) points of NanoFlow Table 3 (Zhu et al., "NanoFlow", OSDI 2025).
P_OF_R: dict[Resource, tuple[tuple[float, float], ...]] = {
    Resource.COMPUTE: ((0.0, 0.0), (1.0, 1.0)),
    Resource.MEMORY: (
        (0.0, 0.0),
        (0.1, 0.2),
        (0.2, 0.3),
        (0.4, 0.8),  # Fig. 6 text
        (0.8, 0.85),
        (0.9, 0.95),
        (1.0, 1.0),
    ),
    Resource.NETWORK: ((0.0, 0.0), (0.1, 0.3), (0.2, 0.5), (0.8, 0.9), (0.9, 1.0), (1.0, 1.0)),
}


REST = 0.0
"""The share of a nano-op that takes what the fixed-share ops beside it leave."""


def performance(resource: Resource, share: float) -> float:
    """P(R): the fraction of its best speed an op bound by `resource` reaches on share R."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share {share} must be in (0, 1]")
    points = P_OF_R[resource]
    i = bisect_right([r for r, _ in points], share) - 1
    if i >= len(points) - 1:
        return points[-1][1]
    (r0, p0), (r1, p1) = points[i], points[i + 1]
    return p0 + (p1 - p0) * (share - r0) / (r1 - r0)


@dataclass(frozen=True, slots=True)
class NanoOp:
    """One nano-operation: a piece of one op of one layer, on one processor's lane."""

    name: str
    layer: int
    piece: int
    """Index of its token range among the op's pieces (nano-batch index)."""
    tokens: tuple[int, int]
    """[first, last) token of the batch it covers."""
    processor: str
    resource: Resource
    share: float
    """R in (0, 1], or REST."""
    alone_s: float
    """Seconds on the whole device (share 1)."""
    deps: tuple[int, ...] = ()
    """Indices of the ops (earlier in the list) that must finish before it starts."""
    op: Op | None = None
    """The planned op it prices (FLOPs and bytes for the work totals)."""

    @property
    def elastic(self) -> bool:
        return self.share == REST


@dataclass(frozen=True, slots=True)
class Bar:
    """When one nano-op ran, and the share it held on average (share-seconds / seconds)."""

    op: NanoOp
    start_s: float
    end_s: float
    share: float


def schedule(ops: Sequence[NanoOp], priority: Sequence[int] | None = None) -> list[Bar]:
    """List scheduling: whenever a lane is free, it starts the ready op of highest priority
    (lowest rank in `priority`, default: the order of `ops`) whose share still fits; ops
    on other lanes run at the same time.

    Returns one bar per op, in the order of `ops`."""
    return _Timeline(ops, priority).run()


def held_s(bars: Sequence[Bar], start_s: float, end_s: float) -> dict[str, float]:
    """Share-seconds of each processor's units held between start_s and end_s: the fixed
    shares of the ops running, and while any REST op runs, all the units they leave (the
    REST ops split those among themselves). Never more than end_s - start_s per processor
    when the fixed shares running at once sum to at most 1 (as `schedule` places them),
    whichever layers the ops belong to, and over the whole schedule it is the bars' own
    share x duration summed."""
    events: dict[str, list[tuple[float, float, int]]] = {}
    for bar in bars:
        if bar.end_s <= bar.start_s:
            continue
        op = bar.op
        fixed, elastic = (0.0, 1) if op.elastic else (op.share, 0)
        per = events.setdefault(op.processor, [])
        per.append((bar.start_s, fixed, elastic))
        per.append((bar.end_s, -fixed, -elastic))
    held: dict[str, float] = {}
    for processor, per in events.items():
        per.sort(key=lambda e: e[0])
        total, fixed, elastic, t = 0.0, 0.0, 0, per[0][0]
        for when, d_fixed, d_elastic in per:
            span = min(when, end_s) - max(t, start_s)
            if span > 0:
                free = min(1.0, max(0.0, 1.0 - fixed)) if elastic else 0.0
                total += (fixed + free) * span
            fixed, elastic, t = fixed + d_fixed, elastic + d_elastic, when
        held[processor] = total
    return held


class _Timeline:
    def __init__(self, ops: Sequence[NanoOp], priority: Sequence[int] | None) -> None:
        self.ops = ops
        self.rank = list(priority) if priority is not None else list(range(len(ops)))
        self.by_rank = {r: i for i, r in enumerate(self.rank)}
        self.waiting = [len(op.deps) for op in ops]
        self.dependents: list[list[int]] = [[] for _ in ops]
        self.ready: dict[tuple[str, Resource], list[int]] = {}
        for i, op in enumerate(ops):
            for d in op.deps:
                self.dependents[d].append(i)
            queue = self.ready.setdefault((op.processor, op.resource), [])
            if not self.waiting[i]:
                queue.append(self.rank[i])
        self.busy: set[tuple[str, Resource]] = set()
        self.fixed: dict[str, float] = {}  # units held by fixed-share ops, per processor
        self.running: list[tuple[float, int]] = []  # fixed-share ops by end time
        self.elastic: dict[int, list[float]] = {}  # op -> [alone seconds left, share, rate]
        self.start = [0.0] * len(ops)
        self.end = [0.0] * len(ops)
        self.units_s = [0.0] * len(ops)

    def run(self) -> list[Bar]:
        now, done = 0.0, 0
        while done < len(self.ops):
            self._start_ready(now)
            self._rates()
            t = self.running[0][0] if self.running else float("inf")
            for left, _, rate in self.elastic.values():
                if rate > 0:
                    t = min(t, now + left / rate)
            if t == float("inf"):
                raise ValueError("nano-ops wait on each other in a cycle; deps must point back")
            for i, state in self.elastic.items():
                state[0] -= state[2] * (t - now)
                self.units_s[i] += state[1] * (t - now)
            now = t
            finished = []
            while self.running and self.running[0][0] <= now:
                finished.append(heapq.heappop(self.running)[1])
            finished += [i for i, st in self.elastic.items() if st[0] <= 1e-9 * self.ops[i].alone_s]
            for i in finished:
                self._finish(i, now)
            done += len(finished)
        return [
            Bar(op, s, e, (u / (e - s)) if e > s else 0.0)
            for op, s, e, u in zip(self.ops, self.start, self.end, self.units_s, strict=True)
        ]

    def _start_ready(self, now: float) -> None:
        busy, ops = self.busy, self.ops
        ranks = sorted(r for lane, queue in self.ready.items() if lane not in busy for r in queue)
        for r in ranks:
            i = self.by_rank[r]
            op = ops[i]
            lane = (op.processor, op.resource)
            held = self.fixed.get(op.processor, 0.0)
            if lane in busy or held + op.share > 1.0 + 1e-9:
                continue
            self.ready[lane].remove(r)
            busy.add(lane)
            self.start[i] = now
            if op.elastic:
                self.elastic[i] = [op.alone_s, 0.0, 0.0]
            else:
                self.fixed[op.processor] = held + op.share
                self.end[i] = now + op.alone_s / performance(op.resource, op.share)
                self.units_s[i] = op.share * (self.end[i] - now)
                heapq.heappush(self.running, (self.end[i], i))

    def _rates(self) -> None:
        sharing: dict[str, int] = {}
        for i in self.elastic:
            sharing[self.ops[i].processor] = sharing.get(self.ops[i].processor, 0) + 1
        for i, state in self.elastic.items():
            op = self.ops[i]
            free = min(1.0, max(0.0, 1.0 - self.fixed.get(op.processor, 0.0)))
            rest = free / sharing[op.processor]
            state[1] = rest
            state[2] = performance(op.resource, rest) if rest > 1e-9 else 0.0

    def _finish(self, i: int, now: float) -> None:
        op = self.ops[i]
        self.busy.discard((op.processor, op.resource))
        if op.elastic:
            del self.elastic[i]
            self.end[i] = now
        else:
            self.fixed[op.processor] -= op.share
        for j in self.dependents[i]:
            self.waiting[j] -= 1
            if not self.waiting[j]:
                self.ready[(self.ops[j].processor, self.ops[j].resource)].append(self.rank[j])
