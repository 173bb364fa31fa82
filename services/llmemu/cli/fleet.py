"""`simulate` for scenarios that need the fleet driver: a cluster section, a Mooncake
trace, or generated prompts with shared prefixes (a single replica is a fleet of one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmemu.cli.files import Loaded
from llmemu.cli.fleet_needed import is_mooncake
from llmemu.cli.reading import DATA_BYTES, read_text
from llmemu.core.catalog import load_system
from llmemu.core.errors import ConfigError
from llmemu.core.fleet.build import build_fleet
from llmemu.core.fleet.results import fleet_summary, merged_run
from llmemu.core.fleet.spec import ClusterSpec
from llmemu.core.fleet.workload import (
    FleetWorkload,
    capped,
    from_mooncake,
    from_workload,
    with_prefix_groups,
    with_sessions,
)

MOONCAKE_KEYS = ("timestamp", "input_length", "output_length", "hash_ids")


def read_mooncake(path: Path, limit: int) -> list[tuple[float, int, int, tuple[int, ...]]]:
    """Rows (timestamp_s, input, output, hash_ids) of a Mooncake trace, by time; only the
    first `limit` lines are read."""
    rows = []
    for number, line in enumerate(read_text(path, "workload.trace", DATA_BYTES).splitlines(), 1):
        if len(rows) >= limit:
            break
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            ids = tuple(int(h) for h in rec["hash_ids"])
            row = (float(rec["timestamp"]) / 1e3, int(rec["input_length"]), int(rec["output_length"]), ids)  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}:{number}: a Mooncake line needs {', '.join(MOONCAKE_KEYS)} ({exc})"
            ) from None
        if row[0] < 0 or row[1] < 1 or row[2] < 0:
            raise ConfigError(
                f"{path}:{number}: timestamp must be >= 0, input_length >= 1, output_length >= 0"
            )
        rows.append(row)
    if not rows:
        raise ConfigError(f"{path}: the trace is empty")
    return sorted(rows, key=lambda r: r[0])


def fleet_workload(loaded: Loaded) -> FleetWorkload:
    wl = loaded.spec.workload
    if wl is None:
        raise ConfigError("scenario has no workload; add workload: {requests, arrival, ...}")
    seed = loaded.spec.seed
    if wl.sessions is not None:
        w = with_sessions(wl, wl.sessions, seed)
    elif wl.trace is not None and is_mooncake(loaded):
        rows = read_mooncake(loaded._path(wl.trace, "workload.trace"), wl.requests)
        w = from_mooncake(rows, wl.requests, wl.time_scale)
    elif wl.prefix_groups is not None:
        w = with_prefix_groups(loaded.workload(), wl.prefix_groups, seed)
    else:
        base = loaded.workload()
        w = from_workload(base)
        if base.arrivals is not None and wl.time_scale != 1.0:
            w = FleetWorkload(w.inputs, w.outputs, base.arrivals * wl.time_scale, w.concurrency)
    return capped(w, loaded.model.max_context)


def simulate_fleet(
    loaded: Loaded,
    progress,
    wall_start: float,
    requests_out: str | None = None,
    *,
    compiled: bool = True,
) -> dict[str, Any]:
    """The fleet's summary; `requests_out`: also a CSV row per finished request, the id
    being its index in the workload; `compiled=False`: the Python engine throughout."""
    import time

    from llmemu.reports.fleet import fleet_details

    cluster = loaded.spec.cluster or ClusterSpec(replicas=1)
    driver = build_fleet(
        cluster,
        loaded.model,
        loaded.system,
        loaded.spec.policy,
        load_system,
        seed=loaded.spec.seed,
    )
    run = driver.run(fleet_workload(loaded), progress, compiled_loop=compiled)
    summary = fleet_summary(run, time.perf_counter() - wall_start)
    summary.update(fleet_details(run, merged_run(run), summary))
    if requests_out:
        Path(requests_out).write_text("\n".join(run.log.csv_lines()) + "\n")
    return summary
