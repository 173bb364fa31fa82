"""`llmemu report` / `simulate --report` / `sweep --report`: the files of the page, and every
number on it equal to the JSON it was rendered from."""

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from llmemu.cli.main import main
from llmemu.reports.html import lookup

pytest.importorskip("matplotlib")

SCENARIO = {
    "model": "llama-3-8b",
    "system": "h100x1",
    "policy": {"max_num_seqs": 8},
    "workload": {
        "requests": 150,
        "arrival": {"kind": "poisson", "rate": 4},
        "input_tokens": {"kind": "normal", "mean": 300, "std": 60},
        "output_tokens": {"kind": "constant", "value": 64},
    },
    "seed": 5,
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Cells(HTMLParser):
    """(data-key, data-value, shown text) of each number cell, and every image source."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[list[str]] = []
        self.images: list[str] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-key" in a:
            self.cells.append([a["data-key"], a["data-value"], ""])
            self._open = True
        if tag == "img":
            self.images.append(a["src"])

    def handle_data(self, data):
        if self._open:
            self.cells[-1][2] += data

    def handle_endtag(self, tag):
        self._open = False


# How each shown unit relates to the JSON value, and half its last shown digit.
_SHOWN = {
    "ms": (1e3, 5e-4),
    "%": (100, 0.05),
    "GB": (1e-9, 5e-3),
    "GFLOP": (1e-9, 5e-3),
    "s": (1, 5e-4),
}


def _check_page(out: Path, result: dict) -> list[list[str]]:
    html = (out / "index.html").read_text()
    assert json.loads((out / "result.json").read_text()) == result
    # Self-contained: nothing is fetched when the page is viewed.
    assert not re.search(r"(src|href)=\"(https?:)?//", html) and "<script" not in html
    parser = _Cells()
    parser.feed(html)
    pngs = sorted(out.glob("*.png"))
    assert pngs
    inlined = sorted(base64.b64decode(s.split(",", 1)[1]) for s in parser.images)
    assert inlined == sorted(p.read_bytes() for p in pngs)  # each plot inlined, byte for byte
    for png in pngs:
        data = png.read_bytes()
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert data[:8] == PNG_MAGIC and width > 300 and height > 150, png.name
    for key, value, shown in parser.cells:
        assert json.loads(value) == lookup(result, key), key  # exact, from the attribute
        number, _, unit = shown.partition(" ")
        scale, half_digit = _SHOWN.get(unit, (1, 5e-4))
        assert float(number) == pytest.approx(json.loads(value) * scale, abs=half_digit), key
    return parser.cells


def test_simulate_report_shows_the_json_numbers(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    out = tmp_path / "report"
    assert main(["simulate", str(scenario), "--report", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    cells = _check_page(out, result)
    keys = {c[0] for c in cells}
    for key in (
        "throughput/output_tokens_per_s",
        "ttft_s/p50",
        "ttft_s/p99",
        "itl_s/p50",
        "tpot_s/mean",
        "requests/completed",
        "devices/h100/utilization",
        "iteration/iteration_s",
        "iteration/ops/0/time_s",
    ):
        assert key in keys
    assert {p.name for p in out.glob("*.png")} == {
        "distributions.png",
        "utilization.png",
        "lanes.png",
        "roofline-h100.png",
    }
    assert lookup(result, "requests/completed") == 150
    # Every request appears once in the TTFT histogram; each of its 63 later tokens once
    # in the ITL histogram: 150 * 63 = 9450.
    assert sum(result["distributions"]["ttft_s"]["counts"]) == 150
    assert sum(result["distributions"]["itl_s"]["counts"]) == 150 * 63


def test_report_command_reproduces_the_sweep_page(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    grid = ["--grid", "workload.arrival.rate=5,10,20,40,80", "--jobs", "1"]
    assert main(["sweep", str(scenario), *grid, "--out", str(tmp_path / "sweep")]) == 0
    result = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    out = tmp_path / "page"
    assert main(["report", str(tmp_path / "sweep" / "sweep.json"), "-o", str(out)]) == 0
    cells = _check_page(out, result)
    assert "curves.png" in {p.name for p in out.glob("*.png")}
    tput = [p["result"]["throughput"]["output_tokens_per_s"] for p in result["points"]]
    # At most 8 requests decode at once, each token at least itl p50 apart at the lowest
    # load: throughput cannot pass 8 / itl, and the sweep's best stays under it.
    assert max(tput) < 8 / result["points"][0]["result"]["itl_s"]["p50"]
    # Saturation by the rule: the first rate delivered under 90% with TTFT p50 at least
    # twice the lowest load's, or the first load within 95% of the best (not the last).
    rates = result["grid"]["workload.arrival.rate"]
    res = [p["result"] for p in result["points"]]
    ttft0 = res[0]["ttft_s"]["p50"]
    queued = [i for i, (rate, r) in enumerate(zip(rates, res, strict=True))
              if r["throughput"]["requests_per_s"] < 0.9 * rate and r["ttft_s"]["p50"] >= 2 * ttft0]  # fmt: skip
    plateau = next(i for i, t in enumerate(tput) if t >= 0.95 * max(tput))
    knee = min([*queued, plateau])
    assert knee < len(tput) - 1
    saturation = [c for c in cells if c[0].endswith("/params/workload.arrival.rate")]
    assert saturation == [
        [
            f"points/{knee}/params/workload.arrival.rate",
            json.dumps(result["points"][knee]["params"]["workload.arrival.rate"]),
            str(result["points"][knee]["params"]["workload.arrival.rate"]),
        ]
    ]


def test_a_sweep_over_another_axis_is_titled_by_it_without_saturation(tmp_path: Path) -> None:
    from llmemu.reports.curves import saturation_points

    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump({**SCENARIO, "workload": {**SCENARIO["workload"], "requests": 30}}))  # fmt: skip
    grid = ["--grid", "policy.max_num_seqs=2,4,8", "--jobs", "1"]
    assert main(["sweep", str(scenario), *grid, "--out", str(tmp_path), "--report", str(tmp_path / "page")]) == 0  # fmt: skip
    html = (tmp_path / "page" / "index.html").read_text()
    assert "<h2>Curves over policy.max_num_seqs</h2>" in html
    assert "saturation" not in html.lower()
    result = json.loads((tmp_path / "sweep.json").read_text())
    assert saturation_points(result, "policy.max_num_seqs") == {"all": None}
