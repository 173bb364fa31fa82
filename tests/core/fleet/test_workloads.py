"""Prompts with shared prefixes: Mooncake traces, prefix groups, multi-turn sessions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.core.fleet.helpers import run_fleet_raw

from llmemu.cli.files import load_scenario_data
from llmemu.cli.fleet import fleet_workload, read_mooncake
from llmemu.core.errors import ConfigError
from llmemu.core.fleet.prompts import block_hashes

BASE = {"model": "llama-3.1-8b", "system": "h100x1"}


def _workload(tmp_path, workload: dict):
    return fleet_workload(load_scenario_data({**BASE, "workload": workload}, tmp_path, [], "t"))


def test_mooncake_rows_become_seconds_and_512_token_blocks(tmp_path):
    lines = [
        {"timestamp": 1500, "input_length": 1100, "output_length": 7, "hash_ids": [0, 1, 2]},
        {"timestamp": 500, "input_length": 600, "output_length": 3, "hash_ids": [0, 5]},
    ]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    w = _workload(tmp_path, {"requests": 2, "trace": "t.jsonl"})
    # Sorted by time, from the first request: 0.5 s and 1.5 s -> 0 and 1.0 s.
    assert w.arrivals.tolist() == [0.0, 1.0]
    assert w.inputs.tolist() == [600, 1100] and w.outputs.tolist() == [3, 7]
    # 1100 tokens: blocks of 512, 512 and the remaining 76.
    assert w.segments[1] == ((0, 512), (1, 512), (2, 76))
    # Both open with hash id 0: their first 512 tokens = 32 blocks of 16 share keys.
    a, b = (block_hashes(s, 16, n) for s, n in zip(w.segments, w.inputs.tolist(), strict=True))
    assert a[:32] == b[:32] and a[32] != b[32]
    assert len(a) == 600 // 16 and len(b) == 1100 // 16


def test_a_bad_mooncake_line_names_the_line_and_the_keys(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"timestamp": 0, "input_length": 5, "hash_ids": [1]}\n')
    with pytest.raises(ConfigError, match=r"t.jsonl:1: a Mooncake line needs .*output_length"):
        read_mooncake(path, 10)


def test_prefix_groups_share_a_system_prompt(tmp_path):
    wl = {
        "requests": 400,
        "arrival": {"kind": "poisson", "rate": 5},
        "input_tokens": {"kind": "constant", "value": 100},
        "output_tokens": {"kind": "constant", "value": 10},
        "prefix_groups": {"groups": 4, "tokens": 1024, "fraction": 0.5},
    }
    w = _workload(tmp_path, wl)
    shared = w.inputs == 1124
    assert set(w.inputs.tolist()) == {100, 1124}
    assert 0.4 < shared.mean() < 0.6  # about half, drawn from the seed
    firsts = {w.segments[i][0][0] for i in np.flatnonzero(shared)}
    assert firsts == {0, 1, 2, 3}
    # Same group -> the 1024 / 16 = 64 leading blocks are the same keys.
    i, j = [k for k in np.flatnonzero(shared) if w.segments[k][0][0] == 2][:2]
    hi, hj = block_hashes(w.segments[i], 16, 1124), block_hashes(w.segments[j], 16, 1124)
    assert hi[:64] == hj[:64] and hi[64] != hj[64]


def test_sessions_grow_the_prompt_by_each_answer_and_wait_for_it():
    data = {
        **BASE,
        "workload": {
            "requests": 6,
            "arrival": {"kind": "poisson", "rate": 0.5},
            "input_tokens": {"kind": "constant", "value": 200},
            "output_tokens": {"kind": "constant", "value": 50},
            "sessions": {"turns": 3, "think_s": 2.0},
        },
    }
    w = fleet_workload(load_scenario_data(data, None, [], "t"))
    # Turn k's prompt: k inputs of 200 and k - 1 answers of 50.
    assert w.inputs.tolist() == [200, 450, 700, 200, 450, 700]
    assert np.isnan(w.arrivals[[1, 2, 4, 5]]).all() and w.parents.tolist() == [-1, 0, 1, -1, 3, 4]
    # Turn 1's prompt and answer (250 tokens: 15 full blocks of 16) open turn 2's prompt.
    t1 = block_hashes(w.segments[0], 16, 250)
    t2 = block_hashes(w.segments[1], 16, 450)
    assert len(t1) == 15 and t2[:15] == t1 and w.segments[1][:2] == w.segments[0]
    log = run_fleet_raw(data).log
    arrival, finish = log.column("arrival_s"), log.column("finish_s")  # by request index
    assert len(log) == 6
    for i in (1, 2, 4, 5):
        assert arrival[i] == pytest.approx(finish[i - 1] + 2.0)
