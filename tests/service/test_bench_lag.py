"""`llmemu bench` against a real `llmemu serve` process: under an artificial CPU hog it prints
the pacing lag and a warning; on an unloaded server it prints the lag and no warning.

Both loads are generous so that the verdicts hold on a shared 2-core machine: the hogged
server runs at a low CPU priority (nice 10: a tenth of a busy process's share) beside one
busy process per core at normal priority, at `--speed 1`; the quiet one runs at `--speed
0.05`, where the 5 ms emulated bound is 100 ms of wall time, with four users."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager

import pytest
from serve_process import serving

from llmemu.service.bench.report import render

pytestmark = pytest.mark.slow
SERVE = ("--model", "llama-3-8b", "--system", "h100x1")
BENCH = ["--concurrency", "4", "--requests", "4", "--input-tokens", "64", "--output-tokens", "24"]
HOGS = os.cpu_count() or 2


@contextmanager
def cpu_hogs(n: int):
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def test_a_hogged_server_is_reported_with_its_lag_and_a_warning(cli):
    with serving(*SERVE, "--speed", "1", niceness=10) as url, cpu_hogs(HOGS):
        code, out, err = cli("bench", "--url", url, *BENCH, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["emulated_source"] == "exact"
    lag = report["pacing_lag"]
    assert lag["p99"] > lag["bound_s"] == 0.005 and lag["over_bound"]
    assert "exceeds the server's bound of 5 ms" in report["warning"]
    text = render(report)  # what `llmemu bench` prints without --json
    assert f"p99 {lag['p99'] * 1e3:.2f}, max" in text
    assert "\nwarning: pacing lag p99" in text


def test_a_quiet_server_is_reported_with_its_lag_and_no_warning(cli):
    with serving(*SERVE, "--speed", "0.05") as url:
        code, out, err = cli("bench", "--url", url, *BENCH, "--json")
    assert code == 0, err
    report = json.loads(out)
    lag = report["pacing_lag"]
    assert lag["iterations"] >= 24  # at least one iteration per output token
    assert lag["p99"] < lag["bound_s"] and not lag["over_bound"]
    assert report["warning"] is None
    assert report["emulated_requests"] == report["client"]["completed"] == 4  # every one
