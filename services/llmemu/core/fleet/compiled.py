"""A fleet whose replicas never see each other, run replica by replica in the compiled loop.

When the driver may advance replicas apart (driver.py: a router that reads no replica, no
KV hand-over, a fixed schedule), each replica runs exactly as `simulate.run` would run it on
the requests routed to it. If the router can also say where every request goes before any
runs (`picks`), and the compiled loop transcribes every replica (fastcore.why_not), each
replica's share runs in C at once; the fleet's log, rejections and decisions and each
replica's recorder, load series and clock are filled from what it returns, as the driver's
own steps would have filled them (tests/core/fleet/test_compiled.py compares the two).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from llmemu.core import fastcore
from llmemu.core.simulate import Workload, rejection


def usable(driver, workload) -> bool:
    pool = driver.entry
    return (
        hasattr(driver.router, "picks")
        and all(not r.caches_prefixes and fastcore.why_not(r.replica) is None for r in pool)
        and workload.arrivals is not None
    )


def run(driver, workload, progress: Callable[[int, int], None] | None) -> float:
    """Every replica of `driver.entry` fed its share of `workload`; the fleet's clock after."""
    pool, total = driver.entry, len(workload.inputs)
    targets = driver.router.picks(total, len(pool))
    order = np.argsort(targets, kind="stable")
    bounds = np.searchsorted(targets[order], np.arange(len(pool) + 1))
    done = 0
    for i, target in enumerate(pool):
        shown = done  # requests of the replicas before this one, for the progress report
        report = None if progress is None else (lambda d, _, s=shown: progress(s + d, total))
        index = order[bounds[i] : bounds[i + 1]]
        share = Workload(workload.inputs[index], workload.outputs[index], workload.arrivals[index])
        out = fastcore.simulate(target.replica, share, report, load=True)
        fastcore.fill_recorder(target.recorder, out, target.engine.pricer)
        fastcore.fill_load(target.load, out)
        refused = np.frombuffer(out["rejected"], np.int64)
        driver.log.extend_served(out, np.delete(index, refused), i)
        reason = rejection(target.engine.kv.capacity_tokens)
        driver.rejected += [(int(j), reason) for j in index[refused]]
        target.assigned += len(index)
        driver.decisions[target.name] += len(index)
        target.free_at = out["simulated_s"]
        done += len(index)
    driver.rejected.sort()
    if progress is not None:
        progress(total, total)
    return max((r.free_at for r in pool), default=0.0)
