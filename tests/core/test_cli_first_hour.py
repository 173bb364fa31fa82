"""What a new user meets first: --version, a help that says what each command does, and
serving-only examples that say so when simulated."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_version_prints_the_installed_version(cli):
    code, out, _ = cli("--version")
    assert (code, out) == (0, f"llmemu {version('llmemu')}\n")


def test_help_gives_every_command_a_one_line_description(capsys):
    from llmemu.cli.main import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "COMMANDS" not in out and "registered by" not in out  # no note for developers
    listing = out.split("positional arguments:")[1].split("options:")[0]
    rows = re.findall(r"^    (\w+)( +\S.*)?$", listing, flags=re.M)
    assert {name for name, _ in rows} >= {"simulate", "explain", "presets", "serve", "tune"}
    assert [name for name, text in rows if not text.strip()] == []


@pytest.mark.parametrize("name", ["serve-duplex-llama3-8b.yaml", "serve-edge4-llama2-7b.yaml"])
def test_serving_only_examples_say_they_are_for_serve(cli, name):
    code, _, err = cli("simulate", str(REPO / "examples" / name))
    assert code == 2
    assert err.count("\n") == 1 and "it is for `llmemu serve`" in err and "add workload:" in err
