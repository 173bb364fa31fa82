"""Sweep grids: parsing `--grid`, the cartesian product and the `--set` strings."""

import pytest

from llmemu.core.errors import ConfigError
from llmemu.core.scenario import apply_overrides
from llmemu.reports.grid import overrides, parse_grid, points


def test_values_are_read_as_yaml() -> None:
    grid = parse_grid(["workload.arrival.rate=2, 4.5 ,8", "policy.routing=xpu-only,opb"])
    assert grid == {"workload.arrival.rate": [2, 4.5, 8], "policy.routing": ["xpu-only", "opb"]}


def test_product_varies_the_first_key_slowest() -> None:
    grid = {"a": [1, 2], "b": ["x", "y", "z"]}
    assert points(grid) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 1, "b": "z"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
        {"a": 2, "b": "z"},
    ]


def test_overrides_round_trip_through_set() -> None:
    params = {"workload.arrival.rate": 2.5, "policy.routing": "opb", "seed": 7, "x.flag": True}
    assert overrides(params) == [
        "workload.arrival.rate=2.5",
        "policy.routing=opb",
        "seed=7",
        "x.flag=true",
    ]
    data = apply_overrides({"workload": {"arrival": {"kind": "poisson"}}}, overrides(params))
    assert data["workload"]["arrival"] == {"kind": "poisson", "rate": 2.5}
    assert data["x"]["flag"] is True and data["seed"] == 7


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "at least one --grid"),
        (["rate"], "expected key.path=v1,v2"),
        (["rate="], "expected key.path=v1,v2"),
        (["a=1", "a=2"], "given twice"),
    ],
)
def test_bad_grids_name_the_fix(items: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_grid(items)
