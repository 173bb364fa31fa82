"""vLLM's KV block residency series (`--kv-cache-metrics`; vllm/v1/core/kv_cache_metrics.py):
`vllm:kv_block_lifetime_seconds` (allocation to eviction), `..._idle_before_evict_seconds`
(last access to eviction) and `..._reuse_gap_seconds` (between successive accesses), with
vLLM's labels (model_name, engine) and residency buckets (0.001 ... 1800 s, 21 values).

Read from the engine steps, in emulated seconds like every other latency series: a block is
born at the start of the iteration whose scheduling gave it to its request, and freed at the
end of the iteration that finished the request, at the start of the one whose scheduling
preempted it (recompute drops its KV), or at the end of the last iteration when it is aborted
between iterations. The emulator has no prefix cache, so a freed block is evicted at once and
nothing ever touches a block after its allocation: its idle time before eviction equals its
lifetime (vLLM counts only prefix-cache hits as accesses), and the reuse-gap histogram has no
observations. (vLLM itself with prefix caching off never reaches its eviction hook; with it on,
a freed block waits in the free queue until reallocated, which this emulator does not model.)

Every block is observed, as with `--kv-cache-metrics-sample 1.0` (vLLM's default samples 1%):
the blocks a request got in one iteration share their birth, so they are one weighted
observation and the cost per iteration grows with the requests, not their blocks.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from llmemu.core.engine import StepResult
from llmemu.core.kvcache import blocks_for
from llmemu.core.request import Request
from llmemu.service.metrics.vllm import LABELS

RESIDENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30,
                     60, 120, 300, 600, 1200, 1800)  # fmt: skip
SAMPLED = "Sampled metrics (controlled by --kv-cache-metrics-sample)."


class WeightedHistogram:
    """A histogram that takes `count` equal observations at once (prometheus_client's cannot)."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float, count: int) -> None:
        self.counts[bisect_left(self.bounds, value)] += count  # le: value <= bound
        self.sum += value * count

    def family(self, name: str, doc: str, label_values: list[str]) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=list(LABELS))
        cumulative, buckets = 0, []
        for bound, n in zip((*map(floatToGoString, self.bounds), "+Inf"), self.counts, strict=True):
            cumulative += n
            buckets.append((bound, cumulative))
        family.add_metric(label_values, buckets, self.sum)
        return family


class KvBlockResidency:
    """Follows each request's blocks through the engine steps; a collector for the registry."""

    def __init__(self, model_name: str, block_size: int) -> None:
        self.base = [model_name, "0"]
        self.block_size = block_size
        self.lifetime = WeightedHistogram(RESIDENCY_BUCKETS)
        self.idle = WeightedHistogram(RESIDENCY_BUCKETS)
        self.reuse_gap = WeightedHistogram(RESIDENCY_BUCKETS)
        self._held: dict[Request, list[tuple[float, int]]] = {}
        """Per request holding blocks: (birth_s, number of blocks born then)."""
        self._counted: dict[Request, int] = {}
        self._last_end_s = 0.0

    def on_step(self, result: StepResult, start_s: float, end_s: float) -> None:
        for req in result.scheduled.preempted:  # freed while this iteration was scheduled
            self._evict(req, start_s)
        for req, _ in result.scheduled.entries:
            # A request that finished this iteration has already given its blocks back; it
            # held one per block_size tokens of KV it had computed (KVCache.try_grow).
            held = blocks_for(req.computed, self.block_size) if req.done else req.num_blocks
            new = held - self._counted.get(req, 0)
            if new > 0:
                self._held.setdefault(req, []).append((start_s, new))
                self._counted[req] = held
        for req in result.finished:
            self._evict(req, end_s)
        self._last_end_s = end_s

    def on_abort(self, req: Request) -> None:
        """Aborts and failures are applied between iterations: the blocks go back at the end
        of the last one (the next would have started then)."""
        self._evict(req, self._last_end_s)

    def _evict(self, req: Request, now_s: float) -> None:
        self._counted.pop(req, None)
        for birth_s, count in self._held.pop(req, ()):
            self.lifetime.observe(now_s - birth_s, count)
            self.idle.observe(now_s - birth_s, count)  # never accessed after its allocation

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield self.lifetime.family("vllm:kv_block_lifetime_seconds", f"Histogram of KV cache block lifetime from allocation to eviction. {SAMPLED}", self.base)  # fmt: skip
        yield self.idle.family("vllm:kv_block_idle_before_evict_seconds", f"Histogram of idle time before KV cache block eviction. {SAMPLED}", self.base)  # fmt: skip
        yield self.reuse_gap.family("vllm:kv_block_reuse_gap_seconds", f"Histogram of time gaps between consecutive KV cache block accesses. Only the most recent accesses are recorded (ring buffer). {SAMPLED}", self.base)  # fmt: skip
