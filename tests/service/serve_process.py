"""`llmemu serve` as a real process on a free port, for tests that need one of their own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

from serve_helpers import free_port


@contextmanager
def serving(*flags: str, niceness: int = 0):
    """Yields the base URL once /health answers; `niceness` lowers the server's CPU priority."""
    port = free_port()
    cmd = [sys.executable, "-m", "llmemu.cli.main", "serve", "--port", str(port), *flags]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: os.nice(niceness))  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    # A server that is still running keeps stderr open: end it before reading.
                    proc.kill()
                    raise AssertionError(f"serve did not start: {proc.stderr.read()}") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stderr.close()
