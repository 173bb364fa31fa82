"""The command table: `llmemu --help` lists every plugin with its own help without importing
it, and `llmemu simulate` of a single replica imports no other command's module, no fleet
driver, no batching policy it does not use, no service module and no numpy.ma
(np.percentile's, 65-190 ms), and pydantic does not scan the installed distributions for
plugins."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from llmemu.cli import commands

REPO = Path(__file__).resolve().parents[2]


def test_each_plugin_help_is_its_add_arguments_docstring():
    for name, (module, text) in commands.PLUGINS.items():
        add = importlib.import_module(module).COMMAND[0]
        assert text == (add.__doc__ or "").strip(), name


def test_single_replica_simulate_imports_only_its_path(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "model: llama-3-8b\nsystem: h100x1\nworkload: {requests: 3, arrival: {kind: burst}, "
        f"lengths: {{kind: csv, path: {REPO / 'data' / 'sharegpt_lengths.csv'}}}}}\n"
    )
    probe = (
        "import contextlib, io, json, sys\n"
        "from llmemu.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main(['simulate', {str(scenario)!r}, '--json'])\n"
        "from pydantic.plugin import _loader\n"
        "print(json.dumps([code, sorted(sys.modules), _loader._plugins is not None]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "PYTHONPATH": str(REPO / "services")},
    ).stdout
    code, modules, scanned_plugins = json.loads(out)
    assert code == 0
    assert not scanned_plugins  # pydantic's entry-point scan (cli/main.py, _run_simulate)
    plugins = {module for module, _ in commands.PLUGINS.values()}
    families = {"llmemu.core.edge.pricer", "llmemu.core.nanoflow.pricer", "llmemu.core.interleave"}
    unwanted = plugins | families | {"llmemu.cli.fleet", "llmemu.core.fleet.driver", "numpy.ma"}
    assert sorted(unwanted & set(modules)) == []
    assert [m for m in modules if m.startswith("llmemu.service.api")] == []
