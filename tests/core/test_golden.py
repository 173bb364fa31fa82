"""Results pinned to committed JSON: the examples that simulate and the `reproduce` claims.

Speed work must not move a number, so each case's `--json` output (minus what measures the
host or the engine's grouping of iterations into steps) is compared with the file written
when the case was pinned, floats to 1e-9 relative. A change that is meant to move numbers
regenerates the files it moves and says why in its commit:

    PYTHONPATH=services python tests/core/test_golden.py [CASE ...]

The two cases marked `full` take minutes; they run when LLMEMU_GOLDEN_FULL=1.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
REPO = Path(__file__).resolve().parents[2]

CASES: dict[str, tuple[str, ...]] = {
    "simulate-llama3-8b-h100": ("simulate", "examples/llama3-8b-h100.yaml"),
    "simulate-edge-klonet-sweep": ("simulate", "examples/edge-klonet-sweep.yaml"),
    "simulate-edge-llama2-70b-klonet": ("simulate", "examples/edge-llama2-70b-klonet.yaml"),
    "simulate-nanoflow-100": (
        "simulate",
        "examples/nanoflow-llama2-70b-a100x8.yaml",
        "--set",
        "workload.requests=100",
    ),
    "reproduce-duplex-quick": ("reproduce", "duplex", "--quick"),
    "reproduce-neupims": ("reproduce", "neupims"),
    "reproduce-tpi-llm": ("reproduce", "tpi-llm"),
    "full-simulate-nanoflow": ("simulate", "examples/nanoflow-llama2-70b-a100x8.yaml"),
    "full-reproduce-duplex": ("reproduce", "duplex"),
}
IGNORED = {"wall_s", "engine_steps", "searched_pipeline"}
"""Keys that measure the host (wall_s, the searched pipeline's cache path) or how iterations
were grouped into engine steps."""
REL = 1e-9


def output(argv: tuple[str, ...]) -> dict[str, Any]:
    """`llmemu ARGV --json`, run in-process from the repository root."""
    from contextlib import redirect_stdout
    from io import StringIO

    from llmemu.cli.main import main

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        buffer = StringIO()
        with redirect_stdout(buffer):
            code = main([*argv, "--json"])
    finally:
        os.chdir(cwd)
    assert code == 0
    return json.loads(buffer.getvalue())


def differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Where `got` differs from `want`: floats beyond REL, anything else exactly."""
    if isinstance(want, dict) and isinstance(got, dict):
        extra = sorted((got.keys() ^ want.keys()) - IGNORED)
        out = [f"{path}: keys {extra} in one only"] if extra else []
        for key in want.keys() & got.keys():
            if key not in IGNORED:
                out += differences(got[key], want[key], f"{path}.{key}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: length {len(got)} != {len(want)}"]
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{path}[{i}]")
        ]
    numbers = isinstance(got, int | float) and isinstance(want, int | float)
    if numbers and (isinstance(want, float) or isinstance(got, float)):
        if got == want or math.isclose(got, want, rel_tol=REL):
            return []
    elif got == want:
        return []
    return [f"{path}: {got!r} != {want!r}"]


def _params():
    for name in CASES:
        marks = []
        if name.startswith("full-"):
            marks.append(
                pytest.mark.skipif(
                    os.environ.get("LLMEMU_GOLDEN_FULL") != "1",
                    reason="minutes; LLMEMU_GOLDEN_FULL=1",
                )
            )
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_params()))
def test_output_equals_the_pinned_json(name):
    want = json.loads((GOLDEN / f"{name}.json").read_text())
    found = differences(output(CASES[name]), want)
    assert not found, f"{len(found)} differences, first: {found[:5]}"


def test_differences_sees_a_changed_float_and_ignores_wall_time():
    want = {"a": 1.0, "wall_s": 3.0, "b": [1, 2.0]}
    assert differences({"a": 1.0 + 1e-12, "wall_s": 9.0, "b": [1, 2.0]}, want) == []
    assert differences({"a": 1.0 + 1e-6, "wall_s": 3.0, "b": [1, 2.0]}, want) != []
    assert differences({"a": 1.0, "wall_s": 3.0, "b": [1]}, want) != []


if __name__ == "__main__":
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for case in sys.argv[1:] or CASES:
        data = output(CASES[case])
        data.pop("wall_s", None)
        (GOLDEN / f"{case}.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print("wrote", case)
