"""Hostile scenario files and --set values (tests/data/hostile, plus ones made here: a FIFO,
an oversized file, a huge key): each ends with exit 2 and one line under 300 characters,
within 5 s and 500 MB (each case forked from one runner process: hostile_runner.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
FILES = HERE.parent / "data" / "hostile"
BASE = str(FILES / "base.yaml")
LAUGHS = "{" + ", ".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9 if p else ['x'] * 9)}]" for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)) + "}"  # fmt: skip


def _made(tmp: Path) -> list[tuple[str, list[str]]]:
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    (tmp / "fifo_trace.yaml").write_text(f"model: llama-3-8b\nsystem: h100x1\nworkload: {{requests: 3, trace: {fifo}}}\n")  # fmt: skip
    (tmp / "big.yaml").write_text("model: llama-3-8b\n# " + "x" * (2 << 20) + "\n")
    (tmp / "huge_key.yaml").write_text("model: llama-3-8b\nsystem: h100x1\n? " + "k" * 500_000 + "\n: 1\n")  # fmt: skip
    return [
        ("fifo as scenario", ["simulate", str(fifo)]),
        ("fifo as trace", ["simulate", str(tmp / "fifo_trace.yaml")]),
        ("2 MB scenario", ["simulate", str(tmp / "big.yaml")]),
        ("500 KB key", ["simulate", str(tmp / "huge_key.yaml")]),
    ]


SETS = [
    ("--set bomb", ["--set", f"policy.options={LAUGHS}"]),
    ("--set recursion", ["--set", "policy.options=&a [*a]"]),
    ("--set nesting", ["--set", "policy.options=" + "[" * 5000]),
    ("--set 1 MB key", ["--set", "k" * (1 << 20) + "=1"]),
    ("--set 1 MB value", ["--set", "model=" + "m" * (1 << 20)]),
    ("--set 5000 digits", ["--set", "seed=" + "9" * 5000]),
    ("--set rate 1e-300", ["--set", "workload.arrival.rate=1.0e-300"]),
    ("--set rate .inf", ["--set", "workload.arrival.rate=.inf"]),
    (
        "--set burst 1e7",
        ["--set", "workload.arrival={kind: burst}", "--set", "workload.requests=10000000"],
    ),  # fmt: skip
    ("--set requests 1e12", ["--set", "workload.requests=1000000000000"]),
]


def _cases(tmp: Path) -> list[tuple[str, list[str]]]:
    files = sorted(p for p in FILES.glob("*.yaml") if p.name != "base.yaml")
    cases = [(p.name, ["simulate", str(p)]) for p in files]
    cases += [(name, ["simulate", BASE, *argv]) for name, argv in SETS]
    cases += [("serve a bomb", ["serve", str(FILES / "billion_laughs.yaml")])]
    return cases + _made(tmp)


def test_each_hostile_case_is_one_line_and_exit_2_within_5_s_and_500_mb(tmp_path):
    cases = _cases(tmp_path)
    assert len(cases) >= 25
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    proc = subprocess.run(
        [sys.executable, str(HERE / "hostile_runner.py"), str(tmp_path / "cases.json")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["name"] for r in results] == [name for name, _ in cases]
    for r in results:
        line = r["stderr"].rstrip("\n")
        where = f"{r['name']}: {line[:300]!r}"
        assert r["code"] == 2, where
        assert "\n" not in line and 0 < len(line) < 300, where
        assert line.startswith("llmemu ") and "Traceback" not in line, where
        assert r["seconds"] < 5, (where, r["seconds"])
        assert "UNCAUGHT" not in line, where
        assert r["rss_mb"] < 500, (where, r["rss_mb"])


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--port", "99999"),
        ("--speed", "0"),
        ("--speed", "nan"),
        ("--max-body-bytes", "0"),
        ("--header-timeout", "-1"),
    ],  # fmt: skip
)
def test_serve_flags_are_refused_by_argparse(cli, flag, value):
    code, _, err = cli("serve", "--model", "llama-3-8b", "--system", "h100x1", flag, value)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"llmemu serve: error: argument {flag}")
