"""`llmemu sweep --cluster`: the same sweep on a Dask cluster of worker processes gives the
same results as the local run (only wall_s differs)."""

import json
from pathlib import Path

import pytest
import yaml

from llmemu.cli.main import main

distributed = pytest.importorskip("distributed")

SCENARIO = {
    "model": "llama-3-8b",
    "system": "h100x1",
    "workload": {
        "requests": 30,
        "arrival": {"kind": "poisson", "rate": 5},
        "input_tokens": {"kind": "normal", "mean": 300, "std": 50},
        "output_tokens": {"kind": "constant", "value": 16},
    },
    "seed": 11,
}


def _points(path: Path) -> list:
    points = json.loads(path.read_text())["points"]
    for p in points:
        p["result"].pop("wall_s")
    return points


def test_dask_cluster_matches_local_processes(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    grid = ["--grid", "workload.arrival.rate=2,6,12"]
    assert main(["sweep", str(scenario), *grid, "--jobs", "2", "--out", str(tmp_path / "a")]) == 0
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
    ):
        address = cluster.scheduler_address
        out = tmp_path / "b"
        assert main(["sweep", str(scenario), *grid, "--cluster", address, "--out", str(out)]) == 0
    result = json.loads((out / "sweep.json").read_text())
    assert result["ran_on"] == f"dask {address}"
    assert _points(tmp_path / "a" / "sweep.json") == _points(out / "sweep.json")


def test_unreachable_cluster_is_a_one_line_error(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("llmemu.reports.sweep.CONNECT_TIMEOUT_S", 1)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    # Port 1 (tcpmux) has no Dask scheduler listening.
    args = ["sweep", str(scenario), "--grid", "seed=1,2", "--cluster", "tcp://127.0.0.1:1"]
    assert main(args) == 2
    assert "cannot reach a Dask scheduler" in capsys.readouterr().err
