"""`reproduce --report`: claims as paper-vs-llmemu bars, and their page."""

import json
from pathlib import Path

import pytest

from llmemu.cli.main import main
from llmemu.reports.bars import bar_chart, field
from llmemu.reports.claims_page import write_claims_report
from llmemu.reproduce import Claim

pytest.importorskip("matplotlib")

# NanoFlow Table 2 (reference/papers.md): LLaMA-2-70B on 8xA100, decode attention "Est" 32 ms.
CLAIMS = [
    Claim("decode attention, Table 2 Est", 32.0, 31.2, "ms", low=30.4, high=33.6),
    Claim("context row", None, 3.0, "x"),
]


def test_fields_come_from_attributes_or_keys() -> None:
    assert field(CLAIMS[0], "label") == "decode attention, Table 2 Est"
    assert field(CLAIMS[0], "ours") == 31.2 and field(CLAIMS[0], "high") == 33.6
    assert field({"metric": "tput", "expected": 2.0}, "paper") == 2.0
    assert field({"metric": "tput"}, "ours") is None


def test_bar_chart_writes_a_png(tmp_path: Path) -> None:
    path = bar_chart(CLAIMS, tmp_path / "c" / "claims.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_claims_page_shows_the_values(tmp_path: Path) -> None:
    index = write_claims_report(CLAIMS, tmp_path, experiment="nanoflow")
    html = index.read_text()
    assert (tmp_path / "claims-nanoflow.png").exists()
    assert 'data-key="0/paper" data-value="32.0">32.000</td>' in html
    assert 'data-key="0/ours" data-value="31.2">31.200</td>' in html
    assert "<td>30.4 .. 33.6</td>" in html
    assert 'data-key="1/paper" data-value="null">-</td>' in html


def test_reproduce_report_has_every_claim_of_the_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "report"
    assert main(["reproduce", "duplex", "--quick", "--json", "--report", str(out)]) == 0
    claims = json.loads(capsys.readouterr().out)["claims"]
    html = (out / "index.html").read_text()
    assert (out / "claims-duplex.png").exists()
    for i, claim in enumerate(claims):
        assert f'data-key="{i}/paper" data-value="{json.dumps(claim["paper"])}"' in html
        assert f'data-key="{i}/ours" data-value="{json.dumps(claim["emulated"])}"' in html


def _axes():
    from llmemu.reports.charts import pyplot

    return pyplot().subplots()[1]


def test_an_open_ended_band_does_not_stretch_the_axis() -> None:
    from llmemu.reports.bars import _limits_and_band

    ax = _axes()
    _limits_and_band(ax, [74.5], (0.0, 1e9))  # "the margin grows": accepted if >= 0
    assert ax.get_ylim() == pytest.approx((0.0, 74.5 * 1.2))  # 20 % headroom over the bar


def test_all_zero_values_get_a_unit_axis() -> None:
    from llmemu.reports.bars import _limits_and_band

    ax = _axes()
    _limits_and_band(ax, [0.0, 0.0], (0.0, 0.0))  # paper: no OOM; llmemu: no OOM
    assert ax.get_ylim() == (0.0, 1.0)
    ax = _axes()
    _limits_and_band(ax, [0.0], (-0.1, 0.1))  # a closed band around zero is shown whole
    assert ax.get_ylim() == pytest.approx((-0.1 - 0.04, 0.1 + 0.04))


def test_a_sweeps_points_share_one_panel() -> None:
    from llmemu.reports.bars import _panels

    sweep = [Claim(f"sweep {a} {ms} ms", None, 1.0 + ms, "s/token") for a in ("star", "ring") for ms in (1, 2, 5, 10)]  # fmt: skip
    claims = [CLAIMS[0], *sweep, Claim("ring - star at 1 ms", None, 0.0, "s/token"), CLAIMS[1]]
    panels = _panels(claims)
    assert [len(p) for p in panels] == [1, 8, 1, 1]  # "ring" starts a run of its own
