"""Run one scenario over a grid of overrides: in this process, over local processes, or on
a Dask `distributed` cluster. Every point is an independent, seeded simulation, so where it
runs changes nothing but its `wall_s`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from llmemu.core.errors import ConfigError, LlmemuError
from llmemu.reports.grid import overrides, points

Progress = Callable[[int, int], None]
CONNECT_TIMEOUT_S = 10


def run_point(data: dict[str, Any], base_dir: str, source: str, sets: list[str]) -> dict:
    """Simulate one grid point; the scenario travels as data so a worker needs no copy of
    the file (files it references must exist at the same path on the worker)."""
    from llmemu.cli.files import load_scenario_data
    from llmemu.core.replica import build_replica
    from llmemu.core.results import summarize
    from llmemu.core.simulate import run
    from llmemu.reports.detail import details

    start = time.perf_counter()
    try:
        loaded = load_scenario_data(data, Path(base_dir), sets, source)
        replica = build_replica(
            loaded.model, loaded.system, loaded.spec.policy, seed=loaded.spec.seed
        )
        result = run(replica, loaded.workload(), keep_requests=False)
    except LlmemuError as exc:  # a point the hardware cannot hold is a result, not a crash
        return {"error": str(exc)}
    summary = summarize(result, time.perf_counter() - start)
    summary.update(details(result))
    return summary


def _validate(params: list[dict[str, Any]], tasks: list[tuple]) -> None:
    """A typo in a grid key or value fails the whole sweep at once, naming the point;
    only what the hardware cannot hold (CapacityError, raised later) becomes an error row."""
    from llmemu.cli.files import load_scenario_data
    from llmemu.core.batching import check_option_names, get_batching

    for p, (data, base_dir, source, sets) in zip(params, tasks, strict=True):
        try:
            policy = load_scenario_data(data, Path(base_dir), sets, source).spec.policy
            get_batching(policy.batching)
            check_option_names(policy.options)
        except ConfigError as exc:
            raise ConfigError(f"grid point {p}: {exc}") from None


def _local(tasks: list[tuple], jobs: int) -> Iterator[tuple[int, dict]]:
    if jobs <= 1:
        for i, task in enumerate(tasks):
            yield i, run_point(*task)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_point, *task): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _dask(tasks: list[tuple], address: str) -> Iterator[tuple[int, dict]]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:  # ValueError: an unparsable address
        raise ConfigError(
            f"--cluster {address}: cannot reach a Dask scheduler ({exc}); start one "
            "(`dask scheduler`, then `dask worker ADDRESS`) or fix the address"
        ) from None
    with client:
        # pure=False: identical tasks are still separate runs, never served from a cache.
        futures = [client.submit(run_point, *task, pure=False) for task in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        for future in dask_completed(futures):
            yield index[future.key], future.result()


def sweep(
    data: dict[str, Any],
    base_dir: str,
    source: str,
    grid: dict[str, list[Any]],
    *,
    sets: list[str] | None = None,
    jobs: int | None = None,
    cluster: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Results in grid order whatever order the points finish in."""
    start = time.perf_counter()
    params = points(grid)
    tasks = [(data, base_dir, source, [*(sets or []), *overrides(p)]) for p in params]
    _validate(params, tasks)
    if cluster:
        stream = _dask(tasks, cluster)
        where = f"dask {cluster}"
    else:
        jobs = min(jobs or os.cpu_count() or 1, len(tasks))
        stream = _local(tasks, jobs)
        where = f"{jobs} local process{'es' if jobs > 1 else ''}"
    results: list[dict | None] = [None] * len(tasks)
    for done, (i, result) in enumerate(stream, 1):
        results[i] = result
        if progress is not None:
            progress(done, len(tasks))
    return {
        "kind": "sweep",
        "scenario": source,
        "sets": list(sets or []),
        "grid": grid,
        "ran_on": where,
        "points": [
            {"params": p, **({"error": r["error"]} if "error" in r else {"result": r})}
            for p, r in zip(params, results, strict=True)
        ],
        "wall_s": time.perf_counter() - start,
    }
