"""The offline engine's loop compiled (`_fastcore.c`), for the replicas it transcribes.

`simulate.run` hands a replica here when the C loop decides and prices exactly as the
Python engine would: continuous batching on one processor (`PricedByParts`), optionally
wrapped by an engine profile's host time, greedy admission, the plain paged KV cache, no
sampled expert routing, and a fresh engine. Anything else runs in Python. The Python engine
stays the reference: tests/core/test_fastcore.py runs scenarios through both and compares
every number of the run. `run(..., compiled=False)` chooses it, as the CLI does under
LLMEMU_ENGINE=python.

The C loop asks this module's pricer for the parts that recur (every op of m tokens but
attention, priced once per m; the LM head once per count of sampling requests) and prices
attention itself from the same formulas as `planner.attn_prefill` / `attn_decode` and
`Pricer._time`. It returns the run's numbers; `run` turns them into the same
`SimulationRun` the Python loop builds.

The extension is built when the package is installed (setup.py; a C compiler and the
Python headers are needed, and its absence only makes runs slower).
"""

from __future__ import annotations

import weakref
from array import array
from collections.abc import Callable

import numpy as np

from llmemu.core.busy_series import BusySeries
from llmemu.core.cost import Pricer
from llmemu.core.engine import Engine
from llmemu.core.host import HostPlanPricer
from llmemu.core.kvcache import KVCache
from llmemu.core.price_memo import PricedByParts
from llmemu.core.pricing import PlanPricer, ProcessorWork
from llmemu.core.replica import Replica
from llmemu.core.request_log import RequestLog
from llmemu.core.scheduler import Scheduler

ABI = 3
"""The C module's FASTCORE_ABI this module calls (its arguments and results)."""

try:
    from llmemu.core import _fastcore
except ImportError:  # not built: the Python engine runs everything
    _fastcore = None
STALE = _fastcore is not None and getattr(_fastcore, "ABI", None) != ABI
"""Built from an older _fastcore.c (an in-place build outlives a source change): not used."""
if STALE:
    _fastcore = None


MAX_BATCHED_TOKENS = 1 << 22
"""The C loop memoises prices in arrays indexed by token count (32 bytes per possible count)."""


def why_not(replica: Replica) -> str | None:
    """Why the C loop cannot run this replica (None: it can)."""
    if STALE:
        return "llmemu.core._fastcore was built from an older source: run pip install -e . again"
    if _fastcore is None:
        return "llmemu.core._fastcore is not built"
    engine = replica.engine
    sched, plan_pricer = engine.scheduler, engine.pricer
    if type(plan_pricer) is HostPlanPricer:
        plan_pricer = plan_pricer.inner
    checks = (
        (type(engine) is Engine, "a custom engine"),
        (type(sched) is Scheduler and sched.admission == "greedy", "admission is not greedy"),
        (type(sched.kv) is KVCache, "the KV cache caches prefixes"),
        (sched.max_num_batched_tokens <= MAX_BATCHED_TOKENS, "max_num_batched_tokens is huge"),
        (not sched.running and not sched.waiting and engine._next_id == 0, "not a fresh engine"),
        (type(plan_pricer) is PlanPricer, "the batching policy is not continuous"),
        (type(plan_pricer.memo) is PricedByParts, "not priced by parts on one processor"),
        (not plan_pricer.keep_plan, "plans are kept"),
        (type(plan_pricer.pricer) is Pricer, "a custom pricer"),
        (_even_experts(plan_pricer), "expert routing is sampled"),
    )
    return next((reason for ok, reason in checks if not ok), None)


def _even_experts(plan_pricer: PlanPricer) -> bool:
    experts = plan_pricer.experts
    return experts is None or not plan_pricer.model.is_moe or experts.kind == "balanced"


def run(replica: Replica, workload, progress: Callable[[int, int], None] | None = None):
    """`simulate.run(replica, workload, keep_requests=False)` in C (`why_not` must be None).
    `progress(done, total)` is called every 4,096 finished requests and once at the end
    (the Python loop calls it after every step that finishes one)."""
    from llmemu.core.simulate import Recorder, SimulationRun, rejection

    out = simulate(replica, workload, progress)
    rec = fill_recorder(Recorder(), out, replica.engine.pricer)
    reason = rejection(replica.engine.kv.capacity_tokens)
    rejected = [(i, reason) for i in array("q", out["rejected"])]
    log = RequestLog.from_columns(out)
    if progress is not None:
        progress(len(log), len(workload.inputs))
    return SimulationRun(replica, [], rejected, out["simulated_s"], rec, log)


def simulate(replica: Replica, workload, progress=None, *, load: bool = False) -> dict:
    """The C loop's raw numbers for `replica` fed `workload` (a Workload's four fields);
    `load`: with the replica's load series (a fleet's). The replica's KV peak and request
    counter are updated as the Python engine would leave them."""
    engine = replica.engine
    memo, config = _config(replica)
    arrivals = workload.arrivals
    out = _fastcore.simulate(
        config,
        np.ascontiguousarray(workload.inputs, np.int64),
        np.ascontiguousarray(workload.outputs, np.int64),
        None if arrivals is None else np.ascontiguousarray(arrivals, np.float64),
        workload.concurrency,
        lambda m: memo.tokens_part(m).duration_s,
        lambda logits: memo.head_part(logits).duration_s,
        *_price_arrays(memo, engine.scheduler.max_num_batched_tokens + 1),
        progress,
        *_bins(BusySeries()),
        load,
    )
    _leave_engine_as_python_would(engine, out)
    return out


def _leave_engine_as_python_would(engine: Engine, out: dict) -> None:
    """The counters a Python run leaves in the engine it ran (its queues are empty)."""
    engine.track_requests = False
    engine.kv.peak_used_blocks = out["peak_used_blocks"]
    engine._next_id = out["accepted"]
    sched = engine.scheduler
    sched._admitted = out["admitted"]
    sched.decode.iteration, sched.decode.last_end_s = out["iteration"], out["last_end_s"]
    sched.decode._entries = out["entries"]


_PRICES: weakref.WeakKeyDictionary[PricedByParts, tuple[array, array]] = weakref.WeakKeyDictionary()
"""Per pricer, the durations of the token-count and LM-head parts the C loop has asked for
(-1: not yet), so that replicas sharing a pricer (a fleet's pool) ask for each count once."""


def _price_arrays(memo: PricedByParts, size: int) -> tuple[array, array]:
    arrays = _PRICES.get(memo)
    if arrays is None or len(arrays[0]) != size:
        arrays = _PRICES[memo] = (array("d", [-1.0]) * size, array("d", [-1.0]) * size)
    return arrays


def _config(replica: Replica) -> tuple[PricedByParts, tuple]:
    engine = replica.engine
    sched, plan_pricer = engine.scheduler, engine.pricer
    host = plan_pricer if type(plan_pricer) is HostPlanPricer else None
    if host is not None:
        plan_pricer = host.inner
    memo: PricedByParts = plan_pricer.memo
    model, pricer = memo.model, memo.pricer  # what PricedByParts prices with
    rates = pricer.rates[memo.processor]
    profile = host.profile if host else None
    config = (
        float(model.q_size), float(model.kv_size), float(model.kv_width),
        float(model.dtype_bytes), memo.layers,
        rates.attention_flops, rates.bytes_per_s, float(pricer.tp), rates.request_tokens,
        rates.overhead_s,
        int(host is not None),
        profile.iteration_s if profile else 0.0, profile.sequence_s if profile else 0.0,
        profile.token_s if profile else 0.0, host.sampler_s_per_sequence if host else 0.0,
        sched.kv.block_size, sched.kv.num_blocks, sched.max_num_seqs,
        sched.max_num_batched_tokens, engine.max_fused_iterations,
        float(sched.kv.capacity_tokens),
    )  # fmt: skip
    return memo, config


def _bins(series: BusySeries) -> tuple[int, float]:
    return series.num_bins, series.bin_s


def fill_recorder(rec, out: dict, plan_pricer: PlanPricer):
    """Fill `rec` (empty) as the Python loop would have from the same run; its per-step
    samples keep their kind (lists, or a fleet's arrays)."""
    memo = _memo(plan_pricer)
    if rec.busy.num_bins != len(out["bins"]):
        raise ValueError("fill_recorder: the recorder's BusySeries needs its default bins")
    rec.steps, rec.iterations = out["steps"], out["iterations"]
    rec.preemptions = out["preemptions"]
    for name, code in _SAMPLES:
        values = array(code, out[name])
        setattr(rec, name, values if isinstance(getattr(rec, name), array) else values.tolist())
    processor = memo.processor
    rec.busy.bin_s = out["bin_s"]
    if out["steps"]:
        rec.busy.bins = {processor: out["bins"]}
    if out["attention"]:
        total = rec._work[processor] = ProcessorWork()
        for name, (busy, flops, moved, written, count) in out["attention"].items():
            total.add(ProcessorWork(busy, flops, moved, written, {name: count}))
    pending = rec._pending
    for m, weight in out["token_weights"].items():
        part = memo.tokens_part(m)
        pending[id(part)] = [part, weight]
    for logits, weight in out["head_weights"].items():
        part = memo.head_part(logits)
        pending[id(part)] = [part, weight]
    return rec


_SAMPLES = (("itl_first", "d"), ("itl_slope", "d"), ("itl_count", "q"), ("itl_weight", "q"))


def fill_load(load, out: dict) -> None:
    """A fleet replica's LoadSeries (empty) as its steps would have left it."""
    state = out["load"]
    series = load.series
    series.bin_s = state["bin_s"]
    if out["steps"]:
        series.bins = dict(zip(("batch", "kv"), state["rows"], strict=True))
    load._lo, load._hi = state["lo"], state["hi"]
    load._batch_s, load._kv_s = state["batch_s"], state["kv_s"]


def _memo(plan_pricer: PlanPricer) -> PricedByParts:
    return (plan_pricer.inner if type(plan_pricer) is HostPlanPricer else plan_pricer).memo
