"""`batching: nanoflow` without options searches its pipeline once per scenario and caches
it; any option (the paper's pipeline) skips the search."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from llmemu.cli import nanoflow_auto

SCENARIO = {
    "model": "llama-2-7b",
    "system": "a100x1",
    "policy": {"batching": "nanoflow", "max_num_batched_tokens": 512, "max_num_seqs": 64},
    "workload": {
        "requests": 24,
        "arrival": {"kind": "burst"},
        "input_tokens": {"kind": "constant", "value": 128},
        "output_tokens": {"kind": "constant", "value": 16},
    },
}


def test_search_runs_once_then_reads_the_cache(tmp_path, monkeypatch, cli_json):
    monkeypatch.setenv("LLMEMU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(nanoflow_auto, "EVALUATIONS", 8)  # the cache is what is tested here
    calls = []
    search = nanoflow_auto._search
    monkeypatch.setattr(nanoflow_auto, "_search", lambda *a: calls.append(a) or search(*a))
    path = tmp_path / "nf.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    first = cli_json("simulate", str(path))
    second = cli_json("simulate", str(path), "--set", "workload.requests=12")  # same lengths
    assert len(calls) == 1
    cached = first["policy"]["searched_pipeline"]
    assert cached.startswith(str(tmp_path / "cache" / "nanoflow"))
    assert second["policy"]["searched_pipeline"] == cached
    options = json.loads(Path(cached).read_text())
    assert first["policy"]["options"] == second["policy"]["options"] == options
    assert sum(options["nano_batches"]) == 512  # nano-batches cut the dense batch


def test_any_option_is_the_users_pipeline(tmp_path, monkeypatch, cli_json):
    monkeypatch.setenv("LLMEMU_CACHE_DIR", str(tmp_path / "cache"))
    data = {**SCENARIO, "policy": {**SCENARIO["policy"], "options": {"overlap": True}}}
    path = tmp_path / "nf.yaml"
    path.write_text(yaml.safe_dump(data))
    policy = cli_json("simulate", str(path))["policy"]
    assert policy["searched_pipeline"] is None and policy["options"] == {"overlap": True}
    assert not (tmp_path / "cache").exists()
