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
