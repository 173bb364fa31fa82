"""The sliding-window memory scheduler (TPI-LLM §3.3) as a timeline over the nodes.

Each node keeps at most `window` blocks of its weights resident. One loader per node
streams its blocks from disk in order; it may start block k once block k - window has been
released, and a block is released when its compute ends. A block computes once it is
loaded and the collective before it has finished, so loading hides under the current
block's compute and all-reduce, and a node stalls when its disk is slower. Collectives are
barriers: they start when the last node taking part finishes its block.

The window slides over iterations too (the block order is cyclic: the next iteration's
input embedding loads while the output head computes), so an iteration is priced in steady
state: the steps run twice and the second pass is the iteration. A window of 0 (scheduler
off), or one at least as long as a node's block list, keeps everything resident.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmemu.core.edge.blocks import Step


@dataclass(slots=True)
class NodeTimes:
    """Seconds one node spent per activity in one iteration."""

    compute_s: float = 0.0
    communication_s: float = 0.0
    """Inside collectives (all-reduce, broadcast)."""
    barrier_s: float = 0.0
    """Waiting at a collective for slower nodes."""
    disk_s: float = 0.0
    """Its loader streaming weights (overlaps the rest)."""
    stall_s: float = 0.0
    """Compute waiting for a block still loading."""
    flops: float = 0.0
    bytes: float = 0.0


@dataclass(slots=True)
class _Loader:
    resident: bool
    free_at: float = 0.0
    released: list[float] = field(default_factory=list)

    def loaded_at(self, load_s: float, window: int) -> float:
        if self.resident:
            return 0.0
        k = len(self.released)
        room_at = self.released[k - window] if k >= window else 0.0
        self.free_at = max(self.free_at, room_at) + load_s
        return self.free_at


def run_window(steps: list[Step], window: int, passes: int = 2) -> tuple[float, list[NodeTimes]]:
    """Duration of one steady-state iteration and what each node did in it."""
    num_nodes = len(steps[0].blocks)
    per_node = [sum(1 for s in steps if s.blocks[i] is not None) for i in range(num_nodes)]
    loaders = [_Loader(resident=window == 0 or window >= n) for n in per_node]
    ready = 0.0
    times: list[NodeTimes] = []
    start = 0.0
    for _ in range(passes):
        start, times = ready, [NodeTimes() for _ in range(num_nodes)]
        for step in steps:
            ends: dict[int, float] = {}
            for i, block in enumerate(step.blocks):
                if block is None:
                    continue
                loader, spent = loaders[i], times[i]
                loaded = loader.loaded_at(block.load_s, window)
                begin = max(ready, loaded)
                ends[i] = begin + block.compute_s
                loader.released.append(ends[i])
                spent.stall_s += begin - ready
                spent.disk_s += 0.0 if loader.resident else block.load_s
                spent.compute_s += block.compute_s
                spent.flops += block.flops
                spent.bytes += block.bytes
            last = max(ends.values())
            if step.sync_s:
                for i in range(num_nodes):
                    times[i].communication_s += step.sync_s
                    times[i].barrier_s += last - ends.get(i, last)
            ready = last + step.sync_s
    return ready - start, times
