"""Offline simulation in virtual time: feed a workload to a replica, collect what happened."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from llmemu.core.busy_series import BusySeries
from llmemu.core.pricing import IterationCost, ProcessorWork
from llmemu.core.replica import Replica
from llmemu.core.request import Request
from llmemu.core.request_log import RequestLog
from llmemu.core.workload import (
    Burst,
    Closed,
    Poisson,
    WorkloadSpec,
    poisson_arrivals,
    sample_lengths,
)


@dataclass(frozen=True)
class Workload:
    """Materialised requests: lengths, and arrival times unless the loop is closed."""

    inputs: np.ndarray
    outputs: np.ndarray
    arrivals: np.ndarray | None
    concurrency: int = 0


def materialise(
    spec: WorkloadSpec,
    seed: int,
    *,
    rows: np.ndarray | None = None,
    trace: np.ndarray | None = None,
    max_context: int | None = None,
) -> Workload:
    """Draw the requests. `rows` are (input, output) pairs of a lengths file; `trace` rows
    are (arrival_s, input, output). Prompt + output are capped to the model's context, and
    prompts to `max_input_tokens`."""
    rng = np.random.default_rng(seed)
    n = spec.requests
    arrivals: np.ndarray | None
    if trace is not None:
        take = trace[:n]
        inputs, outputs, arrivals = take[:, 1], take[:, 2], take[:, 0] - take[0, 0]
    else:
        if rows is not None:
            pick = rows[rng.integers(0, len(rows), n)]
            inputs, outputs = pick[:, 0], pick[:, 1]
        else:
            inputs = sample_lengths(spec.input_tokens, n, rng)
            outputs = sample_lengths(spec.output_tokens, n, rng)
        arrivals = _arrivals(spec, n, rng)
    inputs = np.maximum(1, inputs.astype(np.int64))
    outputs = np.maximum(1, outputs.astype(np.int64))
    if max_context:
        outputs = np.minimum(outputs, max(1, max_context - 1))
        inputs = np.minimum(inputs, max_context - outputs)
    if spec.max_input_tokens:
        inputs = np.minimum(inputs, spec.max_input_tokens)
    concurrency = spec.arrival.concurrency if isinstance(spec.arrival, Closed) else 0
    return Workload(inputs, outputs, arrivals, concurrency)


def _arrivals(spec: WorkloadSpec, n: int, rng: np.random.Generator) -> np.ndarray | None:
    if isinstance(spec.arrival, Poisson):
        return poisson_arrivals(spec.arrival.rate, n, rng)
    if isinstance(spec.arrival, Burst):
        return np.zeros(n)
    return None


@dataclass
class Recorder:
    """Everything the summary needs, kept cheaply while the engine runs."""

    iterations: int = 0
    steps: int = 0
    preemptions: int = 0
    itl_first: list[float] = field(default_factory=list)
    itl_slope: list[float] = field(default_factory=list)
    itl_count: list[int] = field(default_factory=list)
    itl_weight: list[int] = field(default_factory=list)
    busy: BusySeries = field(default_factory=BusySeries)
    """Busy seconds per processor over time, for utilisation plots."""
    _work: dict[str, ProcessorWork] = field(default_factory=dict)
    _pending: dict[int, list] = field(default_factory=dict)
    """Shared (memoised) costs whose work is still to be added, by identity: [cost, summed
    weight]. They recur every few steps, so a step adds a weight rather than merging dicts."""

    @property
    def work(self) -> dict[str, ProcessorWork]:
        """Work per processor, summed over every recorded step."""
        for leaf, weight in self._pending.values():
            self._add(leaf, weight)
        self._pending.clear()
        return self._work

    def add_cost(self, cost: IterationCost) -> dict[str, float]:
        """Add the cost's work; its busy seconds per processor."""
        pending, busy = self._pending, {}
        for leaf, weight in cost.leaves():
            if leaf.shared:
                entry = pending.get(id(leaf))
                if entry is None:
                    pending[id(leaf)] = [leaf, weight]
                else:
                    entry[1] += weight
            else:
                self._add(leaf, weight)
            for name, w in leaf._work.items():
                busy[name] = busy.get(name, 0.0) + w.busy_s * weight
        return busy

    def _add(self, leaf: IterationCost, weight: float) -> None:
        work = self._work
        for name, w in leaf._work.items():
            total = work.get(name)
            if total is None:
                total = work[name] = ProcessorWork()
            total.add(w, weight)


@dataclass
class SimulationRun:
    replica: Replica
    requests: list[Request]
    """Every admitted request, only when `run(keep_requests=True)`; else empty."""
    rejected: list[tuple[int, str]]
    simulated_s: float
    recorder: Recorder
    log: RequestLog = field(default_factory=RequestLog)
    """The finished requests' numbers (what the summary reads), kept however run is called;
    taken from `requests` when not given (a fleet's merged run)."""

    def __post_init__(self) -> None:
        if not len(self.log) and self.requests:
            self.log = RequestLog.of(self.requests)


class _Arrivals:
    """Next arrival times: a fixed schedule, or a closed loop fed by completions."""

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.total = len(workload.inputs)
        self.issued = 0
        self.heap: list[float] = []
        # Python lists: reading one numpy scalar per request costs more than the request.
        self._inputs = workload.inputs.tolist()
        self._outputs = workload.outputs.tolist()
        self._times = workload.arrivals.tolist() if workload.arrivals is not None else None
        if workload.arrivals is None:
            self.heap = [0.0] * min(workload.concurrency, self.total)

    def next_time(self) -> float:
        if self.issued >= self.total:
            return math.inf
        if self._times is not None:
            return self._times[self.issued]
        return self.heap[0] if self.heap else math.inf

    def pop(self) -> tuple[float, int, int]:
        i = self.issued
        self.issued += 1
        t = self._times[i] if self._times is not None else heapq.heappop(self.heap)
        return t, int(self._inputs[i]), int(self._outputs[i])

    def completed(self, at: float) -> None:
        if self.workload.arrivals is None and self.issued + len(self.heap) < self.total:
            heapq.heappush(self.heap, at)


def rejection(capacity_tokens: int) -> str:
    """Why a request longer than the KV cache holds (KVCache.capacity_tokens) is refused at
    arrival."""
    if capacity_tokens >= 1:
        return f"prompt + output longer than the KV cache holds ({capacity_tokens} tokens)"
    return "no room for a KV cache (the weights fill the memory: OOM)"


def run(
    replica: Replica,
    workload: Workload,
    progress: Callable[[int, int], None] | None = None,
    *,
    keep_requests: bool = True,
    compiled: bool = True,
) -> SimulationRun:
    """Feed `workload` to `replica` until every request finished. `keep_requests=False`
    drops each request once it finished (memory follows the requests in flight; the
    summary reads `log`); the run is then the compiled loop's where it can run the replica
    (fastcore.py), unless `compiled=False`."""
    if not keep_requests and compiled:
        from llmemu.core import fastcore

        if fastcore.why_not(replica) is None:
            return fastcore.run(replica, workload, progress)
    engine = replica.engine
    engine.track_requests = False  # only first tokens and finishes are read here
    max_tokens = engine.kv.capacity_tokens
    arrivals = _Arrivals(workload)
    requests: list[Request] = []
    log = RequestLog()
    rejected: list[tuple[int, str]] = []
    rec = Recorder()
    now, done = 0.0, 0
    while True:
        while arrivals.next_time() <= now:
            t, n_in, n_out = arrivals.pop()
            if n_in + n_out > max_tokens:
                rejected.append((arrivals.issued - 1, rejection(max_tokens)))
                arrivals.completed(t)
                continue
            req = engine.new_request(t, n_in, n_out)
            if keep_requests:
                requests.append(req)
        horizon = arrivals.next_time()
        result = engine.step(now, horizon) if engine.has_work() else None
        if result is None:
            if horizon == math.inf:
                break
            now = max(now, horizon)
            continue
        now += result.duration_s
        _record(rec, result)
        for req in result.finished:
            log.add(req)
            arrivals.completed(now)
        done += len(result.finished)
        if progress is not None and result.finished:
            progress(done, arrivals.total)
    if engine.has_work() or len(log) + len(rejected) != arrivals.issued:
        raise RuntimeError("simulation ended with unfinished requests: an engine invariant broke")
    return SimulationRun(replica, requests, rejected, now, rec, log)


def _record(rec: Recorder, result) -> None:
    rec.steps += 1
    rec.iterations += result.iterations
    rec.preemptions += len(result.scheduled.preempted)
    if result.itl_samples:
        rec.itl_first.append(result.first_iteration_s)
        rec.itl_slope.append(result.slope_s)
        rec.itl_count.append(result.iterations)
        rec.itl_weight.append(result.itl_samples)
    busy = rec.add_cost(result.cost)
    rec.busy.add(result.start_s, result.start_s + result.duration_s, busy)
