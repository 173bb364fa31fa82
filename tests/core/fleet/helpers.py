"""Build a fleet from a scenario mapping, run it, summarise it (no files, no CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmemu.cli.files import load_scenario_data
from llmemu.cli.fleet import fleet_workload
from llmemu.core.catalog import load_system
from llmemu.core.fleet.build import build_fleet
from llmemu.core.fleet.driver import FleetRun
from llmemu.core.fleet.results import fleet_summary
from llmemu.core.fleet.spec import ClusterSpec


def run_fleet_raw(data: dict[str, Any], base_dir: Path | None = None) -> FleetRun:
    loaded = load_scenario_data(data, base_dir or Path("."), [], "test")
    cluster = loaded.spec.cluster or ClusterSpec(replicas=1)
    driver = build_fleet(
        cluster, loaded.model, loaded.system, loaded.spec.policy, load_system, seed=0
    )
    return driver.run(fleet_workload(loaded))


def run_fleet(data: dict[str, Any], base_dir: Path | None = None) -> dict[str, Any]:
    return fleet_summary(run_fleet_raw(data, base_dir), 0.0)
