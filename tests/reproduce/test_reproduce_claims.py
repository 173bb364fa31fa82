"""`llmemu reproduce`: the claim rows, their arithmetic, and the table on reduced grids."""

from __future__ import annotations

import math

import pytest

from llmemu.core.errors import ConfigError
from llmemu.reproduce import Claim, Options, band, run_experiment


def test_claim_error_and_band():
    """Emulated 2.80 against the paper's 2.67: (2.80 - 2.67) / 2.67 = +4.87 %, inside
    [2.2, 3.2]; a context row (no paper value) has neither error nor verdict."""
    claim = Claim("max", 2.67, 2.80, low=2.2, high=3.2)
    assert claim.rel_error == pytest.approx(0.13 / 2.67)
    assert claim.within is True
    assert Claim("max", 2.67, 3.3, low=2.2, high=3.2).within is False
    assert Claim("context", None, 1.5).rel_error is None
    assert Claim("context", None, 1.5).within is None
    assert band(1.6, 0.25) == pytest.approx({"low": 1.2, "high": 2.0})


def test_unknown_experiment_names_the_valid_ones():
    with pytest.raises(ConfigError, match="duplex, .*neupims"):
        run_experiment("nope", Options(quick=True))


PAPER_VALUES = {
    "duplex": [2.67, 2.07, 2.51, 1.04, 1.36],
    "neupims": [3.0, 2.4, 1.6],
}


@pytest.mark.parametrize("name", ["duplex", "neupims"])
def test_quick_grid_gives_every_claim(name):
    claims = run_experiment(name, Options(quick=True))
    published = [c for c in claims if c.paper is not None]
    assert [c.paper for c in published] == PAPER_VALUES[name]
    for claim in claims:
        assert math.isfinite(claim.emulated) and claim.emulated > 0
    for claim in published:
        assert claim.low < claim.paper < claim.high


def test_cli_prints_the_table_and_json(cli, cli_json):
    code, out, _ = cli("reproduce", "duplex", "--quick")
    assert code == 0
    assert "Duplex+PE+ET vs GPU, max throughput" in out
    assert "2.67x" in out and "claims within their band" in out
    data = cli_json("reproduce", "neupims", "--quick")
    assert data["experiment"] == "neupims" and data["options"]["quick"] is True
    first = data["claims"][0]
    assert first["paper"] == 3.0
    assert first["rel_error"] == pytest.approx((first["emulated"] - 3.0) / 3.0)
