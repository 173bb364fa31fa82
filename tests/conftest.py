"""Shared test helpers."""

from __future__ import annotations

import json

import pytest

from llmemu.cli.main import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run `llmemu ARGV` in-process; return (exit code, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def cli(capsys):
    def call(*argv: str):
        return run_cli(capsys, *argv)

    return call


@pytest.fixture
def cli_json(capsys):
    def call(*argv: str):
        code, out, err = run_cli(capsys, *argv, "--json")
        assert code == 0, err
        return json.loads(out)

    return call
