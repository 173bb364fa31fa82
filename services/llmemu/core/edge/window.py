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

The first iteration a process runs is the exception (`cold`): TPI-LLM's `MemoryManager`
holds no weights until the first forward pass asks for its first block, so nothing is
preloaded and the first blocks cannot hide under anything. A cold iteration is one pass from
empty loaders; with the scheduler off its loaders stream every block once, in order (the
released code loads the whole shard at the first token), and the blocks then stay.
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
    window: int
    """Blocks it may hold; a block past them waits for the oldest to be released."""
    free_at: float = 0.0
    released: list[float] = field(default_factory=list)

    def loaded_at(self, load_s: float) -> float:
        if self.resident:
            return 0.0
        k, window = len(self.released), self.window
        room_at = self.released[k - window] if k >= window else 0.0
        self.free_at = max(self.free_at, room_at) + load_s
        return self.free_at


def run_window(
    steps: list[Step], window: int, passes: int = 2, cold: bool = False
) -> tuple[float, list[NodeTimes]]:
    """Duration of one steady-state iteration and what each node did in it; with `cold`,
    of the first iteration of a process (one pass, no block resident yet)."""
    num_nodes = len(steps[0].blocks)
    per_node = [sum(1 for s in steps if s.blocks[i] is not None) for i in range(num_nodes)]
    loaders = [_loader(window, n, cold) for n in per_node]
    passes = 1 if cold else passes
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
                loaded = loader.loaded_at(block.load_s)
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


def _loader(window: int, num_blocks: int, cold: bool) -> _Loader:
    resident = window == 0 or window >= num_blocks
    if cold and resident:
        # Nothing is in memory yet: the whole shard streams in once, block by block.
        return _Loader(resident=False, window=num_blocks)
    return _Loader(resident=resident, window=window)
