"""`llmemu sweep`: every grid point is the same run as `llmemu simulate --set ...`."""

import csv
import json
from pathlib import Path

import pytest
import yaml

from llmemu.cli.main import main

SCENARIO = {
    "model": "llama-3-8b",
    "system": "h100x1",
    "workload": {
        "requests": 40,
        "arrival": {"kind": "poisson", "rate": 4},
        "input_tokens": {"kind": "constant", "value": 200},
        "output_tokens": {"kind": "constant", "value": 20},
    },
    "seed": 3,
}


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    return path


def _without_wall(result: dict) -> list:
    return [
        {**p, "result": {k: v for k, v in p["result"].items() if k != "wall_s"}}
        for p in result["points"]
    ]


def _sweep(scenario: Path, out: Path, *extra: str) -> dict:
    args = ["sweep", str(scenario), "--grid", "workload.arrival.rate=2,8", "--out", str(out)]
    assert main([*args, "--grid", "policy.max_num_seqs=4,64", *extra]) == 0
    return json.loads((out / "sweep.json").read_text())


def test_points_match_simulate_and_processes_change_nothing(
    scenario: Path, tmp_path: Path, capsys
) -> None:
    serial = _sweep(scenario, tmp_path / "one", "--jobs", "1")
    parallel = _sweep(scenario, tmp_path / "two", "--jobs", "2")
    assert serial["ran_on"] == "1 local process" and parallel["ran_on"] == "2 local processes"
    assert [p["params"] for p in serial["points"]] == [
        {"workload.arrival.rate": 2, "policy.max_num_seqs": 4},
        {"workload.arrival.rate": 2, "policy.max_num_seqs": 64},
        {"workload.arrival.rate": 8, "policy.max_num_seqs": 4},
        {"workload.arrival.rate": 8, "policy.max_num_seqs": 64},
    ]
    assert _without_wall(serial) == _without_wall(parallel)
    capsys.readouterr()
    sets = ["--set", "workload.arrival.rate=8", "--set", "policy.max_num_seqs=4"]
    assert main(["simulate", str(scenario), "--json", *sets]) == 0
    alone = json.loads(capsys.readouterr().out)
    alone.pop("wall_s")
    alone.pop("policy")  # simulate's report of the policy it ran; a sweep point's is its params
    assert _without_wall(serial)[2]["result"] == alone


def test_csv_has_one_row_per_point_with_the_json_numbers(scenario: Path, tmp_path: Path) -> None:
    result = _sweep(scenario, tmp_path, "--jobs", "1")
    rows = list(csv.DictReader((tmp_path / "sweep.csv").read_text().splitlines()))
    assert len(rows) == 4
    for row, point in zip(rows, result["points"], strict=True):
        assert float(row["workload.arrival.rate"]) == point["params"]["workload.arrival.rate"]
        assert float(row["ttft_s.p99"]) == point["result"]["ttft_s"]["p99"]
        assert int(row["requests.completed"]) == 40
        assert row["error"] == ""


def test_a_point_that_does_not_fit_is_an_error_row(scenario: Path, tmp_path: Path) -> None:
    # Llama-2-70B needs ~138 GB of fp16 weights; one H100 has 80 GB.
    args = ["sweep", str(scenario), "--grid", "model=llama-3-8b,llama-2-70b", "--jobs", "1"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    points = json.loads((tmp_path / "sweep.json").read_text())["points"]
    assert "result" in points[0]
    assert "llama-2-70b" in points[1]["error"] and "result" not in points[1]


def test_a_sweep_of_only_errors_still_prints_its_table(scenario: Path, capsys) -> None:
    assert main(["sweep", str(scenario), "--grid", "model=llama-2-70b", "--jobs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "req/s", "out", "tok/s", "ttft", "p50", "ms", "ttft",
                                "p99", "ms", "itl", "p50", "ms", "tpot", "ms"]  # fmt: skip
    assert lines[2].startswith("llama-2-70b  error: model 'llama-2-70b' needs")


def test_a_typo_in_a_grid_key_fails_the_sweep_at_once(scenario: Path, capsys) -> None:
    assert main(["sweep", str(scenario), "--grid", "workload.arival.rate=1,2"]) == 2
    err = capsys.readouterr().err
    assert "grid point {'workload.arival.rate': 1}" in err and "workload.arival" in err


@pytest.mark.parametrize(
    ("grid", "named"),
    [
        ("policy.batching=continuous,contiuous", "unknown policy.batching 'contiuous'"),
        ("policy.options.cold_strat=true", "did you mean 'cold_start'?"),
    ],
)
def test_a_typo_in_a_policy_name_fails_the_sweep_at_once(grid, named, scenario: Path, capsys):
    # Not one error row per point: the sweep stops before running anything.
    assert main(["sweep", str(scenario), "--grid", grid]) == 2
    assert named in capsys.readouterr().err
