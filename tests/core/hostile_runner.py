"""Run `llmemu ARGV` once per case, each in a child forked from this process (so a case's
time is its own, not Python's start-up), with an address-space limit as a backstop and a
kill after `--kill-after` seconds. Prints one JSON line per case: exit code, stderr, seconds,
peak resident memory (the child's, from wait4).

    python hostile_runner.py CASES.json   # [[name, [argv...]], ...]
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ["OPENBLAS_NUM_THREADS"] = "1"

import llmemu.cli.files  # noqa: E402,F401  (what every case imports, imported once)
import llmemu.service.api.app  # noqa: E402,F401
from llmemu.cli.main import main  # noqa: E402

ADDRESS_SPACE = 4 << 30
"""A runaway case fails with MemoryError here instead of swapping the machine."""


def _child(argv: list[str], err_fd: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    os.dup2(err_fd, 2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # noqa: BLE001 (reported, and the test fails on it)
        print(f"UNCAUGHT {type(exc).__name__}: {exc}"[:2000], file=sys.stderr)
        code = 1
    sys.stderr.flush()
    os._exit(code)


def run(argv: list[str], kill_after_s: float) -> dict:
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            _child(argv, err.fileno())
        killed = False
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.perf_counter() - start > kill_after_s and not killed:
                os.kill(pid, signal.SIGKILL)
                killed = True
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    return {"code": code, "stderr": stderr, "seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "killed": killed}  # fmt: skip


if __name__ == "__main__":
    cases = json.loads(Path(sys.argv[1]).read_text())
    for name, argv in cases:
        print(json.dumps({"name": name, **run(argv, 20.0)}), flush=True)
